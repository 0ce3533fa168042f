"""suanwang (算网): an open-source computing force network."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("suanwang")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
