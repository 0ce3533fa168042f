"""The controller serves its queue earliest deadline first, then by submission, with backfill."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.control.controller import Controller, ControllerConfig
from suanwang.control.ports import EngineReports, ManualClock
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles

NETWORK = """
version: 1
name: pair
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: dc-a, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: dc-b, tier: edge, region: CN-SH, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: a, site: dc-a, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 800}}
  - {id: b, site: dc-b, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 400}}
links:
  - {id: to-a, a: users, b: dc-a, bandwidth_mbps: 1000, latency_ms: 1}
  - {id: to-b, a: users, b: dc-b, bandwidth_mbps: 1000, latency_ms: 2}
  - {id: a-b, a: dc-a, b: dc-b, bandwidth_mbps: 1000, latency_ms: 1}
"""


def _spec(cores: float, deadline_s: float | None = None) -> TaskSpec:
    return TaskSpec(
        work_gflop=10, cpu_cores=cores, mem_gib=1, ingress_site="users", deadline_s=deadline_s
    )


class Engine:
    """Keeps the runs started; the test ends them."""

    def __init__(self) -> None:
        self.running: list[str] = []
        self.reports: EngineReports | None = None

    def attach(self, reports: EngineReports) -> None:
        self.reports = reports

    def start(self, task: Task) -> None:
        self.running.append(task.id)

    def cancel(self, task_id: str) -> None:
        self.running.remove(task_id)

    def inventory(self) -> tuple[str, ...]:
        return ("a", "b")

    def finish(self, task_id: str) -> None:
        assert self.reports is not None
        self.running.remove(task_id)
        self.reports.task_started(task_id)
        self.reports.task_finished(task_id, True, "done")


class Order:
    """Hears transitions; remembers the waiting tasks and the order they were placed in."""

    def __init__(self) -> None:
        self.waiting: dict[str, Task] = {}
        self.placed: list[str] = []
        self.causes: dict[str, list[str]] = {}
        self.passed_over: list[tuple[str, str]] = []  # (waiting, placed before it)

    def task_changed(self, task: Task, cause: str) -> None:
        self.causes.setdefault(task.id, []).append(cause)
        if cause == "queued":
            self.waiting[task.id] = task
            return
        was_waiting = self.waiting.pop(task.id, None) is not None
        if cause != "placed":
            return
        self.placed.append(task.id)
        if not was_waiting:
            return
        for other in self.waiting.values():
            same = (other.spec.cpu_cores, other.spec.mem_gib) == (
                task.spec.cpu_cores,
                task.spec.mem_gib,
            )
            if same and _served_before(other, task):
                self.passed_over.append((other.id, task.id))


def _served_before(first: Task, second: Task) -> bool:
    """Whether the order of service puts ``first`` ahead of ``second``."""

    def rank(task: Task) -> tuple[int, float, float]:
        deadline_s = task.spec.deadline_s
        if deadline_s is None:
            return (1, task.submitted_at_s, task.submitted_at_s)
        return (0, task.submitted_at_s + deadline_s, task.submitted_at_s)

    return rank(first) < rank(second)


def _controller(
    config: ControllerConfig | None = None,
) -> tuple[Controller, Engine, ManualClock, Order]:
    topology = loads_scenario(NETWORK, "yaml").topology
    engine, clock, order = Engine(), ManualClock(100.0), Order()
    scheduler = Scheduler(builtin_profiles()["nearest"], ClusterState(topology))
    controller = Controller(scheduler, engine, clock, listener=order, config=config)
    return controller, engine, clock, order


def _fill(controller: Controller) -> None:
    for i in range(4):  # two cores on a, two on b
        assert controller.submit(f"bg{i}", _spec(1)).state is TaskState.SCHEDULED


def test_a_freed_node_goes_to_the_earliest_deadline_not_the_first_queued() -> None:
    controller, engine, clock, order = _controller()
    _fill(controller)
    controller.submit("plain", _spec(1))  # no deadline: served after every deadline
    clock.advance(1.0)
    controller.submit("late", _spec(1, deadline_s=600.0))
    clock.advance(1.0)
    controller.submit("early", _spec(1, deadline_s=60.0))  # due first, though queued last
    assert controller.queued == 3
    for run in ("bg0", "bg1", "bg2"):
        clock.advance(1.0)
        engine.finish(run)
    assert order.placed[-3:] == ["early", "late", "plain"]
    assert order.passed_over == []


def test_no_deadline_work_is_served_in_order_of_submission() -> None:
    controller, engine, clock, order = _controller()
    _fill(controller)
    for name in ("first", "second", "third"):
        spec = _spec(1) if name != "second" else TaskSpec(10, mem_gib=2, ingress_site="users")
        controller.submit(name, spec)  # the second is of another demand
        clock.advance(1.0)
    for run in ("bg0", "bg1"):
        engine.finish(run)  # node a frees both its cores, one at a time
    assert order.placed[-2:] == ["first", "second"]
    assert controller.task("third").state is TaskState.PENDING  # type: ignore[union-attr]


def test_a_smaller_task_backfills_a_node_the_waiting_larger_one_cannot_use() -> None:
    controller, engine, clock, order = _controller()
    _fill(controller)
    controller.submit("big", _spec(2, deadline_s=60.0))  # needs a whole node
    controller.submit("small", _spec(1, deadline_s=600.0))
    clock.advance(1.0)
    engine.finish("bg0")  # one core on a: too little for big
    assert order.placed[-1] == "small"
    assert controller.task("big").state is TaskState.PENDING  # type: ignore[union-attr]
    engine.finish("bg2")  # one core on b: still too little
    assert controller.task("big").state is TaskState.PENDING  # type: ignore[union-attr]
    engine.finish("bg3")
    assert order.placed[-1] == "big"  # b is whole again


def test_patience_still_expires_wherever_the_task_stands() -> None:
    controller, _, clock, order = _controller(ControllerConfig(max_wait_s=30.0))
    _fill(controller)
    controller.submit("plain", _spec(1))  # waits 30 s at most
    controller.submit("soon", _spec(1, deadline_s=10.0))
    controller.submit("later", _spec(1, deadline_s=20.0))
    clock.advance(10.5)
    assert controller.expire() == 1
    assert order.causes["soon"][-1].startswith("expired:")
    clock.advance(10.0)
    assert controller.expire() == 1
    assert order.causes["later"][-1].startswith("expired:")
    clock.advance(10.0)
    assert controller.expire() == 1
    assert order.causes["plain"][-1].startswith("expired:")
    assert controller.queued == 0


Op = tuple[str, int, int]
OPS = st.lists(
    st.tuples(st.sampled_from(["submit", "finish"]), st.integers(0, 7), st.integers(1, 4)),
    min_size=1,
    max_size=60,
)
DEADLINES_S = (None, 10.25, 20.25, 40.25, 80.25)  # never a multiple of the clock's step


@settings(max_examples=120, deadline=None)
@given(ops=OPS)
def test_a_task_is_never_passed_over_by_one_served_after_it_that_needs_the_same(
    ops: list[Op],
) -> None:
    controller, engine, clock, order = _controller(ControllerConfig(max_wait_s=60.0))
    for number, (what, pick, step) in enumerate(ops):
        clock.advance(0.5 * step)
        controller.expire()
        if what == "submit":
            cores = 1.0 if pick % 3 else 2.0
            controller.submit(f"t{number}", _spec(cores, DEADLINES_S[pick % len(DEADLINES_S)]))
        elif engine.running:
            engine.finish(engine.running[pick % len(engine.running)])
        assert order.passed_over == []
    for _ in range(len(ops) + 4):  # end every run: what waits is placed or expires
        if not engine.running:
            break
        clock.advance(0.5)
        engine.finish(engine.running[0])
    assert order.passed_over == []
