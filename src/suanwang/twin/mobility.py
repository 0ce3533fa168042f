"""Mobile users: sessions whose ingress site changes as their users move.

Each user has a session (an affinity key) and sends requests of one task type as a Poisson
stream from the ingress site where it is. After an exponential dwell time it moves to another
ingress site of that task type's streams (or another terminal site, where the streams name
fewer than two; the run passes the workload's ingress sites where it has no terminal site).
The scheduler keeps a session on its node while that node still passes every filter — its
SLA still holds from the new ingress — and moves it otherwise; each move of a session to
another node is counted as a migration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from suanwang.model import TaskSpec, Workload
from suanwang.twin.errors import TwinError
from suanwang.twin.loop import EventLoop


@dataclass(frozen=True, slots=True)
class MobilityConfig:
    """Mobile users of a run.

    Attributes:
        users: Number of users (0: none).
        task_type: Task type their requests carry (default: the first hot type with arrivals).
        request_rate_per_s: Requests per second of one user.
        dwell_s: Mean time a user stays at one ingress site.
    """

    users: int = 0
    task_type: str | None = None
    request_rate_per_s: float = 1.0
    dwell_s: float = 300.0

    def __post_init__(self) -> None:
        if self.users < 0:
            raise TwinError(f"users must not be negative, got {self.users}")
        if self.users and (self.request_rate_per_s <= 0 or self.dwell_s <= 0):
            raise TwinError("mobile users need a positive request rate and dwell time")


class Mobility:
    """The mobile users of one run, driving requests and moves on the loop.

    Args:
        config: The users.
        workload: Catalogue and streams (for the task type and the ingress sites).
        loop: The run's event loop.
        submit: Where requests go.
        rng: Random draws.
        terminals: Sites to move between when the task type's streams name fewer than two.

    Raises:
        TwinError: The task type is unknown or has fewer than two ingress sites to move between.
    """

    def __init__(
        self,
        config: MobilityConfig,
        workload: Workload,
        loop: EventLoop,
        submit: Callable[[TaskSpec], None],
        rng: np.random.Generator,
        *,
        terminals: tuple[str, ...] = (),
    ) -> None:
        self._config, self._loop, self._submit, self._rng = config, loop, submit, rng
        self._sites: list[str] = []
        self._where: list[int] = []
        self._specs: dict[tuple[int, int], TaskSpec] = {}
        self._end_s = 0.0
        if not config.users:
            return
        name = config.task_type or _default_type(workload)
        try:
            self._template = workload.task_type(name).spec
        except KeyError:
            raise TwinError(f"mobile users: unknown task type {name!r}") from None
        self._type = name
        self._sites = sorted(
            {site for a in workload.arrivals if a.task_type == name for site, _ in a.ingress}
        )
        if len(self._sites) < 2:
            self._sites = sorted(terminals)
        if len(self._sites) < 2:
            raise TwinError(
                f"mobile users of {name!r} need at least two ingress sites to move between"
            )
        self._where = rng.integers(0, len(self._sites), size=config.users).tolist()

    def start(self, end_s: float) -> None:
        """Schedule every user's first request and first move before ``end_s``."""
        self._end_s = end_s
        for user in range(self._config.users):
            self._after(
                self._rng.exponential(1.0 / self._config.request_rate_per_s), self._request, user
            )
            self._after(self._rng.exponential(self._config.dwell_s), self._move, user)

    def _after(self, delay_s: float, callback: Callable[[int], None], user: int) -> None:
        if self._loop.now_s() + delay_s < self._end_s:
            self._loop.after(delay_s, callback, user)

    def _request(self, user: int) -> None:
        site = self._where[user]
        spec = self._specs.get((user, site))
        if spec is None:
            spec = self._specs[(user, site)] = dataclasses.replace(
                self._template,
                ingress_site=self._sites[site],
                task_type=self._type,
                affinity_key=f"user-{user}",
            )
        self._submit(spec)
        self._after(
            self._rng.exponential(1.0 / self._config.request_rate_per_s), self._request, user
        )

    def _move(self, user: int) -> None:
        step = int(self._rng.integers(1, len(self._sites)))
        self._where[user] = (self._where[user] + step) % len(self._sites)
        self._after(self._rng.exponential(self._config.dwell_s), self._move, user)


def _default_type(workload: Workload) -> str:
    streamed = {a.task_type for a in workload.arrivals}
    for task_type in workload.task_types:
        if task_type.name in streamed and task_type.spec.task_class == "hot":
            return task_type.name
    for task_type in workload.task_types:
        if task_type.name in streamed:
            return task_type.name
    raise TwinError("mobile users need a task type with arrivals")
