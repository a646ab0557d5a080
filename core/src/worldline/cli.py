"""The ``worldline`` command line (placeholder until the runtime lands)."""

import click


@click.group()
def main() -> None:
    """worldline: durable workflows for Python."""
