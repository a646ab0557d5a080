"""worldline world on MongoDB (work in progress)."""
