"""What each race saw, gathered for pytest's terminal summary and a JSON file.

A race stores its record in the test item's ``user_properties`` (key ``"race"``); xdist
ships those to the controller with each report, so the controller's
``pytest_runtest_logreport`` sees every worker's records and writes one report.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

KEY = "race"
_REPORT_OPTION = "--race-report"


@dataclass
class RaceRecord:
    """One race: a scenario run for some rounds by contenders of one kind."""

    scenario: str
    kind: str
    contenders: list[str]
    rounds: int = 0
    seconds: float = 0.0
    #: "move:outcome + move:outcome" -> rounds that ended that way
    outcomes: Counter[str] = field(default_factory=Counter)
    #: per contender position: how often it won (appended an event)
    wins: list[int] = field(default_factory=list)
    test: str = ""

    def add(self, labels: list[str], outcomes: list[str]) -> None:
        self.rounds += 1
        self.outcomes[" + ".join(sorted(f"{m}:{o}" for m, o in zip(labels, outcomes,
                                                                   strict=True)))] += 1
        if not self.wins:
            self.wins = [0] * len(outcomes)
        for i, outcome in enumerate(outcomes):
            self.wins[i] += outcome == "won"

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["outcomes"] = dict(self.outcomes)
        return doc


def add_options(group: Any) -> None:
    group.addoption(_REPORT_OPTION, default=None,
                    help="write the race report (JSON) here (default: race-report.json under "
                         "pytest's basetemp)")


class RaceReporter:
    """Registered by the plugin: gathers race records from test reports (its own or xdist
    workers'), prints them in the terminal summary and writes the JSON report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.records.extend(value for key, value in report.user_properties
                                if key == KEY and isinstance(value, dict))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or not self.records:
            return
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"races": self.records}, indent=2, sort_keys=True))
        tr = terminalreporter
        tr.write_sep("-", "worldline races")
        for rec in sorted(self.records, key=lambda r: (r["scenario"], r["kind"])):
            rate = rec["rounds"] / rec["seconds"] if rec["seconds"] else 0.0
            tr.write_line(f"{rec['scenario']} [{rec['kind']}] {rec['rounds']} rounds in "
                          f"{rec['seconds']:.2f}s ({rate:.0f}/s); wins: "
                          + ", ".join(f"#{i} {name}={n}" for i, (name, n) in
                                    enumerate(zip(rec["contenders"], rec["wins"],
                                                  strict=False))))
            for outcome, count in sorted(rec["outcomes"].items(), key=lambda kv: -kv[1]):
                tr.write_line(f"    {count:6d} x {outcome}")
        tr.write_line(f"race report: {path}")

    def path(self) -> Path:
        explicit = self.config.getoption(_REPORT_OPTION)
        if explicit:
            return Path(explicit)
        factory = getattr(self.config, "_tmp_path_factory", None)
        base = factory.getbasetemp() if factory is not None else Path.cwd()
        return Path(base) / "race-report.json"


def register(config: pytest.Config) -> None:
    """Attach the reporter to this pytest session."""
    config.pluginmanager.register(RaceReporter(config), "worldline-race-reporter")
