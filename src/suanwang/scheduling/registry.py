"""The plugin registry: in-tree plugins by name, plus any installed under an entry-point group.

An outside package adds plugins by declaring, in its ``pyproject.toml``::

    [project.entry-points."suanwang.scheduling.plugins"]
    my-filter = "my_package.plugins:make_my_filter"

where ``make_my_filter(args, state)`` returns an object that satisfies one of the plugin
Protocols in ``suanwang.scheduling.framework``. In-tree names win over outside ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from suanwang.scheduling.plugins import datalocal, fit, fitness, leases, policy, route, scores, sla
from suanwang.scheduling.state import ClusterState

ENTRY_POINT_GROUP = "suanwang.scheduling.plugins"

PluginFactory = Callable[[Mapping[str, Any], ClusterState], object]
"""Builds a plugin from its profile arguments and the cluster state it will read."""


def _plain(cls: Callable[[], object]) -> PluginFactory:
    return lambda args, state: cls()


IN_TREE: dict[str, PluginFactory] = {
    "node-health": _plain(fit.NodeHealth),
    "resource-fit": _plain(fit.ResourceFit),
    "residency": _plain(policy.Residency),
    "trust": _plain(policy.Trust),
    "data-tags": _plain(policy.DataTags),
    "tier-class": _plain(policy.TierClass),
    "latency-budget": _plain(sla.LatencyBudget),
    "latency-bound": lambda args, state: sla.LatencyBound(state.topology),
    "path-bandwidth": _plain(sla.PathBandwidth),
    "price-budget": _plain(sla.PriceBudget),
    "latency-shortest": lambda args, state: route.LatencyShortest(state.topology),
    "least-loaded": _plain(scores.LeastLoaded),
    "cats-metric": _plain(scores.CatsMetric),
    "balanced-allocation": _plain(scores.BalancedAllocation),
    "nearest": _plain(scores.Nearest),
    "compute-only": _plain(scores.ComputeOnly),
    "end-to-end": _plain(scores.EndToEnd),
    "cost": _plain(scores.Cost),
    "carbon": _plain(scores.Carbon),
    "east-west": _plain(scores.EastWest),
    "data-local": _plain(datalocal.DataLocal),
    "random": lambda args, state: scores.Random(args),
    "round-robin": _plain(scores.RoundRobin),
    "best-fit": _plain(fitness.BestFit),
    "scarcity": lambda args, state: fitness.Scarcity(args),
    "link-fit": _plain(fitness.LinkFit),
    "lease-affinity": _plain(leases.LeaseAffinity),
}


class UnknownPluginError(KeyError):
    """A profile names a plugin nobody registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def plugin_factories() -> dict[str, PluginFactory]:
    """In-tree factories plus those of installed packages' entry points."""
    factories: dict[str, PluginFactory] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        factories[entry.name] = entry.load()
    factories.update(IN_TREE)
    return factories


def build_plugin(
    name: str,
    args: Mapping[str, Any],
    state: ClusterState,
    factories: Mapping[str, PluginFactory] | None = None,
) -> object:
    """The plugin called ``name``, built for ``state``.

    Raises:
        UnknownPluginError: no plugin of that name is registered.
    """
    known = factories if factories is not None else plugin_factories()
    if name not in known:
        raise UnknownPluginError(
            f"unknown scheduling plugin {name!r}; known: {', '.join(sorted(known))}"
        )
    return known[name](args, state)
