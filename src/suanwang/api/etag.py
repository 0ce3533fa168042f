"""Conditional reads: a JSON body with a strong ETag, and 304 Not Modified when it is unchanged.

The portal polls some reads every 2 s; most polls of an idle network find the same body. The
ETag is a hash of the body itself (BLAKE2b, 128 bits), so it needs no version kept anywhere:
the body is serialised as it would be anyway, and only the transfer is saved.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the body the `ETag` names is current."}
}
"""The ``responses`` entry of a route answered by ``conditional_json``."""


def etag_of(body: bytes) -> str:
    """The strong entity tag of ``body`` (quoted, as the header carries it)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(header: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (or is ``*``)."""
    if header is None:
        return False
    names = {part.strip().removeprefix("W/") for part in header.split(",")}
    return tag in names or "*" in names


def conditional_json(request: Request, document: BaseModel) -> Response:
    """``document`` as JSON with its ETag; 304 without a body when the caller holds it."""
    body = document.model_dump_json().encode()
    tag = etag_of(body)
    # no-cache: a cache may keep the body but must ask again before each use.
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
