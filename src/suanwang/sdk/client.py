"""A thin typed client of the suanwang HTTP API (``/v1``), over httpx.

One method per call, answers as the typed dictionaries of ``suanwang.sdk.types``; listings that
the server pages (nodes, sites, tasks) are read page by page. Any error answer raises
``ApiError`` carrying the problem document; a server that cannot be reached raises
``httpx.HTTPError`` as httpx does.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self, cast

import httpx

from suanwang.sdk.types import (
    Catalogue,
    Explanation,
    Node,
    NodeState,
    Problem,
    Retirement,
    Site,
    Task,
    TaskPage,
    TaskState,
    TopologyChange,
)
from suanwang.security.tls import client_context

PAGE_ITEMS = 1000
"""Items asked for per call when a method reads a whole listing (the API's largest page)."""


class ApiError(Exception):
    """The server refused a call: its status and problem document (RFC 9457)."""

    def __init__(self, status: int, problem: Problem) -> None:
        super().__init__(f"{status} {problem['title']}: {problem['detail']}")
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        """What went wrong, for people."""
        return self.problem["detail"]


class Client:
    """A connection to one server with one bearer token; use it as a context manager.

    Args:
        url: The server, such as ``http://127.0.0.1:8080``.
        token: A bearer token (``suanwang token create``).
        ca_file: PEM file to verify an https server with (its CA or its own certificate);
            None: the system's certificate authorities.

    Raises:
        suanwang.security.tls.TrustError: ``ca_file`` is missing or holds no certificate.
        timeout_s: Seconds one call may take.
        transport: An httpx transport, for tests (``httpx.MockTransport``).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        ca_file: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            verify=client_context(ca_file),
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.is_success:
            return response.json() if response.content else None
        raise ApiError(response.status_code, _problem(response))

    def _pages(self, path: str, params: dict[str, Any]) -> list[Any]:
        items: list[Any] = []
        while True:
            page = self._call(
                "GET", path, params={**params, "limit": PAGE_ITEMS, "offset": len(items)}
            )
            items.extend(page)
            if len(page) < PAGE_ITEMS:
                return items

    # ---- tasks ---------------------------------------------------------------------------

    def submit_task(self, spec: dict[str, Any], *, idempotency_key: str | None = None) -> Task:
        """Submit a task (``work_gflop``, ``task_type``, ``ingress_site``...); it comes back stored.

        A task the scheduler refused is stored too, in state ``rejected`` with its reason: no
        error is raised for it. With ``idempotency_key`` a resubmission returns the first task.
        """
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        return cast(Task, self._call("POST", "/v1/tasks", json=spec, headers=headers))

    def get_task(self, task_id: str) -> Task:
        """One task with its placement and history."""
        return cast(Task, self._call("GET", f"/v1/tasks/{task_id}"))

    def list_tasks(
        self,
        *,
        state: TaskState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> TaskPage:
        """One page of the tasks the token may see; pass ``next_cursor`` on for the next."""
        params = {"state": state, "task_type": task_type, "limit": limit, "cursor": cursor}
        found = self._call("GET", "/v1/tasks", params={k: v for k, v in params.items() if v})
        return cast(TaskPage, found)

    def iter_tasks(
        self, *, state: TaskState | None = None, task_type: str | None = None
    ) -> Iterator[Task]:
        """Every task the token may see, page after page."""
        cursor: str | None = None
        while True:
            page = self.list_tasks(
                state=state, task_type=task_type, limit=PAGE_ITEMS, cursor=cursor
            )
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def cancel_task(self, task_id: str) -> Task:
        """Cancel a task that is not final yet."""
        return cast(Task, self._call("POST", f"/v1/tasks/{task_id}/cancel"))

    def explain_task(self, task_id: str, *, node_id: str | None = None) -> Explanation:
        """Where the task would go now and why, or why nowhere; ``node_id``: why not there."""
        params = {} if node_id is None else {"node_id": node_id}
        return cast(Explanation, self._call("GET", f"/v1/tasks/{task_id}/explain", params=params))

    # ---- topology and catalogue ----------------------------------------------------------

    def list_nodes(
        self, *, site_id: str | None = None, state: NodeState | None = None
    ) -> list[Node]:
        """Every node of the live topology (all pages), in scenario order."""
        params = {k: v for k, v in {"site_id": site_id, "state": state}.items() if v}
        return cast(list[Node], self._pages("/v1/nodes", params))

    def get_node(self, node_id: str) -> Node:
        """One node with its state."""
        return cast(Node, self._call("GET", f"/v1/nodes/{node_id}"))

    def list_sites(self, *, tier: str | None = None) -> list[Site]:
        """Every site of the live topology (all pages) with its node count."""
        return cast(list[Site], self._pages("/v1/sites", {} if tier is None else {"tier": tier}))

    def register(
        self,
        kind: str,
        record: dict[str, Any],
        *,
        enrol_ttl_s: float | None = None,
    ) -> TopologyChange:
        """Add a ``site``, ``node``, ``link`` or ``service`` record to the live topology.

        The record is written as in a scenario file; a node with ``enrol_ttl_s`` also gets a
        one-time enrolment token for its agent. A record that does not fit is a 422
        ``ApiError`` whose problem names ``field`` and ``value``.
        """
        if kind not in ("site", "node", "link", "service"):
            raise ValueError(f"cannot register a {kind!r}: site, node, link or service")
        params = {} if enrol_ttl_s is None else {"enrol_ttl_s": enrol_ttl_s}
        return cast(TopologyChange, self._call("POST", f"/v1/{kind}s", json=record, params=params))

    def retire_node(self, node_id: str, reason: str = "retired by its provider") -> Retirement:
        """Retire a node: it drains (services move without a break), then stays down."""
        body = {"reason": reason}
        return cast(Retirement, self._call("POST", f"/v1/nodes/{node_id}/retire", json=body))

    def catalogue_types(self) -> Catalogue:
        """The live scenario's catalogue task types, with the demand each gives a task."""
        return cast(Catalogue, self._call("GET", "/v1/catalogue/types"))


def _problem(response: httpx.Response) -> Problem:
    """The problem document of an error answer; one made up when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        body.setdefault("title", response.reason_phrase)
        body.setdefault("status", response.status_code)
        body.setdefault("type", "about:blank")
        body["detail"] = str(body["detail"])
        return cast(Problem, body)
    text = response.text.strip() or response.reason_phrase
    return Problem(
        type="about:blank", title=response.reason_phrase, status=response.status_code, detail=text
    )
