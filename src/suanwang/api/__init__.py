"""The control-plane HTTP API (FastAPI): one point of access for everyone.

Operators, providers, consumers and agents all talk to it. ``create_app`` is the factory;
``serve`` runs it in this process.
"""

from suanwang.api.app import create_app
from suanwang.api.server import serve

__all__ = ["create_app", "serve"]
