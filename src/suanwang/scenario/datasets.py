"""The ``datasets`` section of a scenario file: records, replica sites and storage at sites.

Checked here rather than left to ``Topology`` so that each problem names the field it comes
from: a repeated dataset id, a replica at an unknown site, replicas over a site's
``storage_gb`` (the site's field), a task type naming an unknown dataset.
"""

from __future__ import annotations

from collections.abc import Mapping

from suanwang.model import Dataset, Site, stored_gb
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.schema import ScenarioDoc


def datasets_of(doc: ScenarioDoc, sites: Mapping[str, Site]) -> list[Dataset]:
    """The datasets ``doc`` declares, their replicas fitting the storage of their sites.

    Raises:
        ScenarioError: a repeated id, an unknown or repeated replica site, or a site whose
            replicas take more than its ``storage_gb``.
    """
    datasets: list[Dataset] = []
    seen: set[str] = set()
    for i, entry in enumerate(doc.datasets):
        if entry.id in seen:
            raise ScenarioError(
                "duplicate dataset id; it is already used",
                path=("datasets", i, "id"),
                value=entry.id,
            )
        seen.add(entry.id)
        for j, site_id in enumerate(entry.sites):
            if site_id not in sites:
                raise ScenarioError(
                    "unknown site holding a replica",
                    path=("datasets", i, "sites", j),
                    value=site_id,
                )
            if site_id in entry.sites[:j]:
                raise ScenarioError(
                    "site holds a replica twice", path=("datasets", i, "sites", j), value=site_id
                )
        datasets.append(Dataset(entry.id, entry.size_mb, tuple(entry.sites), frozenset(entry.tags)))
    for k, site in enumerate(sites.values()):
        if site.storage_gb is None or not datasets:
            continue
        held = stored_gb(datasets, site.id)
        if held > site.storage_gb + 1e-9:
            holders = ", ".join(d.id for d in datasets if site.id in d.sites)
            raise ScenarioError(
                f"the replicas stored here ({holders}) take {held:g} GB, more than storage_gb",
                path=("sites", k, "storage_gb"),
                value=site.storage_gb,
            )
    return datasets


def check_task_datasets(doc: ScenarioDoc) -> None:
    """Every dataset a task type reads is declared in ``datasets``.

    Raises:
        ScenarioError: at ``workload.task_types[i].datasets[j]``, naming the unknown id.
    """
    declared = {entry.id for entry in doc.datasets}
    for i, entry in enumerate(doc.workload.task_types):
        for j, dataset_id in enumerate(entry.datasets):
            if dataset_id not in declared:
                raise ScenarioError(
                    "unknown dataset; declared: " + (", ".join(sorted(declared)) or "none"),
                    path=("workload", "task_types", i, "datasets", j),
                    value=dataset_id,
                )
