"""worldline-conformance: the World contract as a pytest plugin.

Run it against any world::

    pytest --pyargs worldline_conformance --world myscheme://host/namespace -n auto

Fixtures for world authors and test writers: ``world_url`` (the URL under test),
``world_spec``, ``world_namespace_url`` (a URL isolated for the current test),
``world_factory`` (opens another connection to that namespace), ``world`` (one opened
world), ``raw_events`` (the backdoor read of a run's persisted log).
"""
