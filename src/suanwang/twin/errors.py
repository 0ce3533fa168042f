"""Errors of the twin."""

from __future__ import annotations


class TwinError(ValueError):
    """A run cannot be set up or its input is wrong; the message names what and where."""
