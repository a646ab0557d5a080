"""worldline world on PostgreSQL (work in progress)."""
