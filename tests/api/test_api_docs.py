"""The API documentation: open, behind a token or off, and served without any CDN."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from api_support import make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanwang.api import create_app

PAGES = ("/docs", "/redoc", "/openapi.json")
# Every URL a page names: attributes and the Swagger UI call's `url:` member.
URL_IN_PAGE = re.compile(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""")


def _client(tmp_path: Path, docs: str) -> tuple[TestClient, dict[str, str]]:
    settings = make_settings(tmp_path, docs=docs)
    tokens = seed_principals(settings)
    return TestClient(create_app(settings)), tokens


def test_public_docs_need_no_token_and_name_only_local_urls(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, "public")
    with client:
        assert client.get("/openapi.json").json()["info"]["title"] == "suanwang control plane"
        for page in ("/docs", "/redoc"):
            html = client.get(page)
            assert html.status_code == 200
            urls = URL_IN_PAGE.findall(html.text)
            assert len(urls) >= 3, urls  # a script, the icon, the document at least
            assert "//" not in html.text.replace("<!--", ""), "no absolute or CDN URL"
            for url in urls:
                assert url.startswith("/"), url
                fetched = client.get(url)
                assert fetched.status_code == 200, url
                assert len(fetched.content) > 100, url


@pytest.mark.parametrize("who", ["admin", "alice", "prov"])
def test_token_docs_need_any_valid_token(tmp_path: Path, who: str) -> None:
    client, tokens = _client(tmp_path, "token")
    with client:
        for page in PAGES:
            refused = client.get(page)
            assert refused.status_code == 401, page
            assert refused.headers["www-authenticate"] == "Bearer"
            bad = client.get(page, headers={"Authorization": "Bearer swt_nope"})
            assert bad.status_code == 401, page
            good = client.get(page, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert good.status_code == 200, page
        # The assets are a UI library, not the API: served to anyone.
        assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_docs_off(tmp_path: Path) -> None:
    client, tokens = _client(tmp_path, "off")
    with client:
        for page in PAGES:
            answer = client.get(page, headers={"Authorization": f"Bearer {tokens['admin']}"})
            assert answer.status_code == 404, page
        # The API itself is unchanged.
        assert client.get("/health").status_code == 200
