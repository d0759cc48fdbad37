"""``python -m shitshovela_core`` runs the CLI."""

from .cli import main

main()
