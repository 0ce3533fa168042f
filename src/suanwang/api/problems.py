"""Errors as problem details (RFC 9457, ``application/problem+json``).

Every error answer has ``type``, ``title``, ``status`` and ``detail``; validation errors add
``errors``, one ``{"path", "message"}`` per bad field, the path written ``body.spec.cpu_cores``.
Domain errors map to 4xx codes here, so that no bad input reaches a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanwang.control.stores import (
    ConflictError,
    InvalidCursorError,
    NotFoundError,
    StoreUnavailableError,
)
from suanwang.model import IllegalTransitionError
from suanwang.scenario import ScenarioError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer raised by a route.

    Args:
        status: HTTP status code.
        detail: What went wrong, for people.
        headers: Extra response headers.
        extra: Extra members of the problem document.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers, extra


def problem(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def field_path(location: Sequence[int | str]) -> str:
    """``("body", "spec", 0)`` as ``body.spec[0]``."""
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"path": field_path(error.get("loc", ())), "message": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"path": "", "message": "invalid request"}
    return problem(422, f"{first['path']}: {first['message']}", errors=errors)


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, str(exc.detail), headers)


def _api(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.detail, exc.headers, **exc.extra)


def _mapped(status: int) -> Any:
    def handler(_: Request, exc: Exception) -> JSONResponse:
        return problem(status, str(exc))

    return handler


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal error; the request may be retried")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem+json."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(NotFoundError, _mapped(404))
    app.add_exception_handler(ConflictError, _mapped(409))
    app.add_exception_handler(IllegalTransitionError, _mapped(409))
    app.add_exception_handler(InvalidCursorError, _mapped(400))
    app.add_exception_handler(ScenarioError, _mapped(422))
    app.add_exception_handler(StoreUnavailableError, _mapped(503))
    app.add_exception_handler(Exception, _unexpected)
