"""``python -m bot.cli`` runs the command line."""

from . import main

main()
