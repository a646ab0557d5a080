"""worldline world on Turso / libSQL (work in progress)."""
