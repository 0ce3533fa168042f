"""Round-trip time between agents over HTTP: a tiny echo endpoint and a client that times it.

Every agent serves ``GET /echo`` (an empty 204 reply); a peer times ``count`` requests over one
kept-alive connection, so the figure is request/response time without the TCP handshake. Both
sides are bounded: the client in request count and in total time, each request by a timeout. The
median feeds the network metric agent (``NetworkMetricAgent.observe_rtt``): in the live plane a
node agent probes the peers the control plane assigns it (``probe_peers``) and posts the figures
signed (``rtt_report``).

An echo server can be told to answer late (``delay_s``): a real server whose every reply waits,
which is how tests make a link's measured RTT rise where the kernel offers no delay emulation.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.security import MetricReport

LOOPBACK = "127.0.0.1"
ECHO_PATH = "/echo"
MAX_COUNT = 1000


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep the connection alive between timed requests

    def do_GET(self) -> None:
        delay_s = getattr(self.server, "delay_s", 0.0)
        if delay_s > 0:
            time.sleep(delay_s)
        self.send_response(204 if self.path == ECHO_PATH else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (stdlib name)
        """Stay quiet: one line per probe request would drown real logs."""


class EchoServer:
    """The echo endpoint, served from a background thread.

    Args:
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one (read it from ``port`` after ``start``).
        delay_s: Seconds every reply waits before it is sent (0: at once).
    """

    def __init__(self, host: str = LOOPBACK, port: int = 0, delay_s: float = 0.0) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must not be negative, got {delay_s}")
        self._server = ThreadingHTTPServer((host, port), _EchoHandler)
        self._server.daemon_threads = True
        self._server.delay_s = delay_s  # type: ignore[attr-defined]  # read by the handler
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """Bound address."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """Bound port."""
        return int(self._server.server_address[1])

    def start(self) -> EchoServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5.0)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class RttStats:
    """Round-trip times of one probe.

    Attributes:
        samples_ms: Each successful request's round-trip time.
        failed: Requests that failed or timed out.
    """

    samples_ms: tuple[float, ...]
    failed: int = 0

    @property
    def median_ms(self) -> float:
        """Median RTT (``inf`` when no request succeeded)."""
        return statistics.median(self.samples_ms) if self.samples_ms else float("inf")

    @property
    def min_ms(self) -> float:
        """Smallest RTT (``inf`` when none)."""
        return min(self.samples_ms, default=float("inf"))

    @property
    def max_ms(self) -> float:
        """Largest RTT (``inf`` when none)."""
        return max(self.samples_ms, default=float("inf"))

    @property
    def loss_ratio(self) -> float:
        """Share of requests that failed."""
        total = len(self.samples_ms) + self.failed
        return self.failed / total if total else 0.0


def measure_rtt(
    host: str, port: int, count: int = 10, timeout_s: float = 1.0, budget_s: float = 5.0
) -> RttStats:
    """Time ``count`` echo requests to ``host:port`` over one connection.

    Args:
        host: Peer address.
        port: Peer port.
        count: Requests to time (1 to ``MAX_COUNT``).
        timeout_s: Limit for each request.
        budget_s: Limit for the whole probe; requests not sent by then are not made.

    Raises:
        ValueError: ``count`` out of range.
    """
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must lie in [1, {MAX_COUNT}], got {count}")
    samples: list[float] = []
    failed = 0
    deadline = time.monotonic() + budget_s
    connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        for _ in range(count):
            if time.monotonic() >= deadline:
                break
            start = time.perf_counter()
            try:
                connection.request("GET", ECHO_PATH)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()  # reconnects on the next request
                continue
            elapsed_ms = (time.perf_counter() - start) * 1000.0
            if response.status == 204:
                samples.append(elapsed_ms)
            else:
                failed += 1
    finally:
        connection.close()
    return RttStats(tuple(samples), failed)


def probe_link(
    agent: NetworkMetricAgent, link_id: str, host: str, port: int, count: int = 10
) -> RttStats:
    """Measure the RTT to the peer across ``link_id`` and record it with the network agent.

    Nothing is recorded when every request failed.
    """
    stats = measure_rtt(host, port, count)
    if stats.samples_ms:
        agent.observe(link_id, latency_ms=stats.median_ms / 2.0, loss_ratio=stats.loss_ratio)
    return stats


@dataclass(frozen=True, slots=True)
class LinkRtt:
    """What one probe of a link measured."""

    link_id: str
    stats: RttStats


def probe_peers(
    peers: Iterable[tuple[str, str, int]], count: int = 5, timeout_s: float = 1.0
) -> list[LinkRtt]:
    """Time ``count`` echo requests to each ``(link id, host, port)`` (bounded per peer)."""
    return [
        LinkRtt(link_id, measure_rtt(host, port, count, timeout_s, budget_s=count * timeout_s))
        for link_id, host, port in peers
    ]


def rtt_report(node_id: str, measured: Iterable[LinkRtt], timestamp_s: float) -> MetricReport:
    """The metric report that carries links' RTTs (``rtt_ms:<link>``, ``loss_ratio:<link>``).

    A link whose every request failed reports its loss only (no RTT to give).
    """
    values: dict[str, float] = {}
    for item in measured:
        if item.stats.samples_ms:
            values[f"rtt_ms:{item.link_id}"] = item.stats.median_ms
        values[f"loss_ratio:{item.link_id}"] = item.stats.loss_ratio
    return MetricReport(node_id, values, timestamp_s)
