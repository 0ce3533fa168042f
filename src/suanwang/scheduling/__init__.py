"""Scheduling: the vectorised plugin framework, in-tree plugins, profiles and reservations.

Place a request with ``Scheduler(profile, ClusterState(topology)).schedule(Request(...))``;
profiles come from ``builtin_profiles()`` or YAML (``load_profiles``). Every plugin point is a
Protocol in ``suanwang.scheduling.framework``.
"""

from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.diagnosis import Diagnosis, NodeVerdict
from suanwang.scheduling.framework import (
    BindPlugin,
    ChosenPath,
    Code,
    FilterPlugin,
    PreFilterPlugin,
    Request,
    ReservePlugin,
    RoutePlugin,
    RouteResult,
    ScorePlugin,
    Stage,
    Status,
)
from suanwang.scheduling.profile import (
    Profile,
    ProfileError,
    builtin_profiles,
    load_profiles,
    resolve_profile,
)
from suanwang.scheduling.registry import ENTRY_POINT_GROUP, UnknownPluginError, plugin_factories
from suanwang.scheduling.reservations import OverCommitError, Reservation, Reservations
from suanwang.scheduling.scheduler import Decision, Scheduler, scale_scores
from suanwang.scheduling.state import ClusterState

__all__ = [
    "ENTRY_POINT_GROUP",
    "BindPlugin",
    "ChosenPath",
    "ClusterState",
    "Code",
    "Cycle",
    "Decision",
    "Diagnosis",
    "FilterPlugin",
    "NodeVerdict",
    "OverCommitError",
    "PreFilterPlugin",
    "Profile",
    "ProfileError",
    "Request",
    "Reservation",
    "Reservations",
    "ReservePlugin",
    "RoutePlugin",
    "RouteResult",
    "Scheduler",
    "ScorePlugin",
    "Stage",
    "Status",
    "UnknownPluginError",
    "builtin_profiles",
    "load_profiles",
    "plugin_factories",
    "required_bandwidth_mbps",
    "resolve_profile",
    "scale_scores",
]
