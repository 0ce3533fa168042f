"""The datasets section and site storage: loaded, dumped back, and refused naming the field."""

from __future__ import annotations

import pytest

from suanwang.model import Dataset
from suanwang.scenario import ScenarioError, dumps_scenario, loads_scenario

TEXT = """\
version: 1
name: data
sites:
  - {id: EAST, tier: region, storage_gb: 2}
  - {id: WEST, tier: hub}
datasets:
  - {id: archive, size_mb: 1500, sites: [EAST, WEST], tags: [cold]}
workload:
  task_types:
    - {name: replay, work_gflop: 1, datasets: [archive]}
"""


def test_datasets_storage_and_task_inputs_load_and_round_trip() -> None:
    scenario = loads_scenario(TEXT, "yaml")
    topology = scenario.topology
    assert topology.datasets == {
        "archive": Dataset("archive", 1_500.0, ("EAST", "WEST"), frozenset({"cold"}))
    }
    assert topology.sites["EAST"].storage_gb == 2.0
    assert topology.sites["WEST"].storage_gb is None
    assert scenario.workload.task_types[0].spec.datasets == ("archive",)
    assert loads_scenario(dumps_scenario(scenario), "yaml") == scenario


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        # the replicas at EAST take 1.5 GB
        (
            "storage_gb: 2}",
            "storage_gb: 1}",
            "f.yaml:4: sites[0].storage_gb: the replicas stored "
            "here (archive) take 1.5 GB, more than storage_gb (got 1.0)",
        ),
        (
            "[EAST, WEST]",
            "[EAST, NORTH]",
            "f.yaml:7: datasets[0].sites[1]: unknown site holding a replica (got 'NORTH')",
        ),
        ("[EAST, WEST]", "[EAST, EAST]", "datasets[0].sites[1]: site holds a replica twice"),
        (
            "datasets: [archive]",
            "datasets: [videos]",
            "f.yaml:10: workload.task_types[0]."
            "datasets[0]: unknown dataset; declared: archive (got 'videos')",
        ),
        ("size_mb: 1500", "size_mb: -1", "datasets[0].size_mb"),
        ("size_mb: 1500", "size_mb: '1500'", "datasets[0].size_mb"),
        ("sites: [EAST, WEST]", "sites: []", "datasets[0].sites"),
        ("storage_gb: 2}", "storage_gb: -2}", "sites[0].storage_gb"),
        ("tags: [cold]", "tags: [cold, cold store]", "datasets[0].tags[1]"),
    ],
)
def test_bad_datasets_are_refused_naming_file_field_and_value(
    old: str, new: str, where: str
) -> None:
    assert old in TEXT
    with pytest.raises(ScenarioError) as error:
        loads_scenario(TEXT.replace(old, new), "yaml", "f.yaml")
    assert where in str(error.value)


def test_a_repeated_dataset_id_is_refused() -> None:
    text = TEXT.replace(
        "datasets:\n", "datasets:\n  - {id: archive, size_mb: 1, sites: [WEST]}\n", 1
    )
    with pytest.raises(ScenarioError, match=r"datasets\[1\]\.id: duplicate dataset id"):
        loads_scenario(text, "yaml", "f.yaml")
