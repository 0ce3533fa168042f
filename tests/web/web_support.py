"""What the portal tests share besides fixtures."""

from __future__ import annotations

from api_support import Server

from suanwang.bootstrap import Settings
from suanwang.control.stores import Principal
from suanwang.storage import open_store


class Portal:
    """A running server with a token per principal (see ``api_support.PRINCIPALS``)."""

    def __init__(self, server: Server, settings: Settings, tokens: dict[str, str]) -> None:
        self.server, self.settings, self.tokens = server, settings, tokens

    @property
    def url(self) -> str:
        return self.server.url

    def add_principal(self, principal: Principal) -> str:
        """Store a principal and a token for it, directly on the server's database."""
        with open_store(self.settings.resolved_database_url()) as stores:
            stores.principals.add_principal(principal)
            token = stores.principals.create_token(principal.id).plaintext
        self.tokens[principal.id] = token
        return token
