"""The digital twin: the real controller and scheduler over a scenario, in simulated time.

``run_twin(scenario, TwinConfig(profile=..., duration_s=..., seed=...))`` returns a
``TwinResult``; ``summarise`` turns it into JSON-ready figures. The twin implements the control
ports (``EventLoop`` is the clock, ``SimEngine`` the execution engine), so the decisions it
simulates are the ones the live controller would make.
"""

from suanwang.twin.errors import TwinError
from suanwang.twin.mobility import MobilityConfig
from suanwang.twin.run import TwinConfig, TwinResult, run_twin

__all__ = ["MobilityConfig", "TwinConfig", "TwinError", "TwinResult", "run_twin"]
