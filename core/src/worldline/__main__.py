"""``python -m worldline …`` runs the CLI."""

from .cli import main

main()
