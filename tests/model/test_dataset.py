"""Datasets and site storage: the records' invariants and the topology's checks."""

from __future__ import annotations

import pytest

from suanwang.model import Dataset, Site, TaskSpec, Tier, Topology, TopologyError, stored_gb


def _sites(storage_gb: float | None = 2.0) -> list[Site]:
    return [Site("A", Tier.EDGE, storage_gb=storage_gb), Site("B", Tier.HUB)]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"id": "", "size_mb": 1.0, "sites": ("A",)}, "non-empty id"),
        ({"id": "d", "size_mb": -1.0, "sites": ("A",)}, "size_mb"),
        ({"id": "d", "size_mb": float("nan"), "sites": ("A",)}, "size_mb"),
        ({"id": "d", "size_mb": 1.0, "sites": ()}, "at least one site"),
        ({"id": "d", "size_mb": 1.0, "sites": ("A", "A")}, "repeat"),
        ({"id": "d", "size_mb": 1.0, "sites": ("A",), "tags": frozenset({"a b"})}, "data tag"),
    ],
)
def test_a_dataset_refuses_bad_fields(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Dataset(**kwargs)  # type: ignore[arg-type]


def test_site_storage_must_be_finite_and_not_negative() -> None:
    with pytest.raises(ValueError, match="storage_gb"):
        Site("A", Tier.EDGE, storage_gb=-1.0)
    with pytest.raises(ValueError, match="storage_gb"):
        Site("A", Tier.EDGE, storage_gb=float("inf"))


def test_replicas_occupy_the_storage_of_their_sites() -> None:
    datasets = [Dataset("d1", 1_500.0, ("A", "B")), Dataset("d2", 500.0, ("A",))]
    topology = Topology(_sites(), datasets=datasets)
    assert stored_gb(datasets, "A") == pytest.approx(2.0)
    assert stored_gb(datasets, "B") == pytest.approx(1.5)
    assert topology.datasets["d1"].size_gb == pytest.approx(1.5)
    with pytest.raises(TopologyError, match="3 GB, more than its storage_gb 2") as error:
        Topology(_sites(), datasets=[*datasets, Dataset("d3", 1_000.0, ("A",))])
    assert (error.value.kind, error.value.record_id) == ("storage", "A")
    # A site without storage_gb is not limited.
    Topology(_sites(None), datasets=[Dataset("d4", 1e9, ("A",))])


def test_a_replica_at_an_unknown_site_or_a_repeated_id_is_refused() -> None:
    with pytest.raises(TopologyError, match="unknown site 'C'"):
        Topology(_sites(), datasets=[Dataset("d", 1.0, ("C",))])
    with pytest.raises(TopologyError, match="duplicate dataset id 'd'"):
        Topology(_sites(), datasets=[Dataset("d", 1.0, ("A",)), Dataset("d", 1.0, ("B",))])


def test_datasets_travel_with_derived_topologies_and_count_for_equality() -> None:
    topology = Topology(_sites(), datasets=[Dataset("d", 1_000.0, ("A",))])
    grown = topology.updated(Site("C", Tier.EDGE))
    assert grown.datasets == topology.datasets
    assert topology != Topology(_sites())
    with pytest.raises(TopologyError, match="cannot remove 'A': dataset 'd'") as error:
        topology.removed("A")
    assert error.value.kind == "in-use"
    # Storage shrunk below what the replicas take is refused like any broken invariant.
    with pytest.raises(TopologyError, match="storage_gb"):
        topology.updated(Site("A", Tier.EDGE, storage_gb=0.5))


def test_a_task_names_each_dataset_once() -> None:
    assert TaskSpec(1.0, datasets=("d1", "d2")).datasets == ("d1", "d2")
    with pytest.raises(ValueError, match="datasets names a dataset twice"):
        TaskSpec(1.0, datasets=("d1", "d1"))
    with pytest.raises(ValueError, match="datasets holds dataset ids"):
        TaskSpec(1.0, datasets=("",))
