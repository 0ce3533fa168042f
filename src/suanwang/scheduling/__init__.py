"""Scheduling: the vectorised plugin framework, in-tree plugins, profiles and reservations.

Place a request with ``Scheduler(profile, ClusterState(topology)).schedule(Request(...))``;
profiles come from ``builtin_profiles()`` or YAML (``load_profiles``). Every plugin point is a
Protocol in ``suanwang.scheduling.framework``.
"""

from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.diagnosis import Diagnosis, NearMiss, NodeVerdict, RefusalGroup
from suanwang.scheduling.framework import (
    ChosenPath,
    Code,
    FilterPlugin,
    Miss,
    MissMeasure,
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
from suanwang.scheduling.scaling import scale_scores
from suanwang.scheduling.scheduler import Decision, Scheduler
from suanwang.scheduling.state import ClusterState
from suanwang.scheduling.whyhere import Candidate, PluginScore, WhyHere

__all__ = [
    "ENTRY_POINT_GROUP",
    "Candidate",
    "ChosenPath",
    "ClusterState",
    "Code",
    "Cycle",
    "Decision",
    "Diagnosis",
    "FilterPlugin",
    "Miss",
    "MissMeasure",
    "NearMiss",
    "NodeVerdict",
    "OverCommitError",
    "PluginScore",
    "PreFilterPlugin",
    "Profile",
    "ProfileError",
    "RefusalGroup",
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
    "WhyHere",
    "builtin_profiles",
    "load_profiles",
    "plugin_factories",
    "required_bandwidth_mbps",
    "resolve_profile",
    "scale_scores",
]
