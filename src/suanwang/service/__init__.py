"""The running control plane: the single writer, the state feed, self-healing and twin runs.

``ControlPlane`` (``plane``) holds the use-cases the API asks for, run as commands of one writer
thread (``worker``) that commits before anyone hears of a change; ``LiveNetwork`` (``live``) is
one scenario made live; ``HealthMonitor`` heals nodes whose agents fall silent; ``TwinRuns``
runs the twin in the background. It types against ports only (``control.ports``,
``control.stores``): which store and which dispatch it is given is the composition root's
choice (``bootstrap``), and import-linter keeps it so.
"""

from suanwang.service.agents import AgentPolicy, AgentRegistry
from suanwang.service.health import HealthConfig, HealthMonitor, HealthPlane, NodeHealth
from suanwang.service.live import Explanation, LiveNetwork
from suanwang.service.plane import BUILD_ERRORS, ControlPlane
from suanwang.service.plane_tasks import Submitted
from suanwang.service.twinruns import TwinRuns

__all__ = [
    "BUILD_ERRORS",
    "AgentPolicy",
    "AgentRegistry",
    "ControlPlane",
    "Explanation",
    "HealthConfig",
    "HealthMonitor",
    "HealthPlane",
    "LiveNetwork",
    "NodeHealth",
    "Submitted",
    "TwinRuns",
]
