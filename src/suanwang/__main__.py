"""``python -m suanwang`` runs the command line."""

from suanwang.cli.main import main

main()
