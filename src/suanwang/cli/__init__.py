"""The ``suanwang`` command line (Typer + Rich)."""
