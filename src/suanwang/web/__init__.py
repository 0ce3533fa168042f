"""The web portal: static assets (HTML, ES modules, CSS) the API serves at ``/``.

The files under ``static/`` need no build step and load nothing from the network, so the
portal works offline and after a plain ``pip install``. The API locates them by path
(``suanwang/web/static``) so that it does not import this sibling layer.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def assets_dir() -> Path:
    """The folder holding ``index.html`` and its scripts and styles."""
    return Path(str(files(__name__) / "static"))
