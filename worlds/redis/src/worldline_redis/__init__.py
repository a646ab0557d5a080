"""worldline world on Redis (work in progress)."""
