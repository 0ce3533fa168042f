"""Importers: scenarios from other tools' formats.

* ``import_graph`` reads GraphML and GML topologies (Internet Topology Zoo and alike) as
  network-only scenarios; ``read_graph`` also reports what it skipped or defaulted.
* ``import_edgesimpy`` reads EdgeSimPy JSON datasets (base stations, links, edge servers,
  services, applications and users).

Each importer builds plain data in the scenario file format and passes it through
``scenario_from_data``, so an import obeys the rules of a hand-written scenario, and raises
``ScenarioError`` (one line naming the file and the place in it) on bad input.
"""

from suanwang.scenario.importers.edgesimpy import edgesimpy_to_scenario, import_edgesimpy
from suanwang.scenario.importers.graph import (
    GraphFormat,
    GraphImport,
    graph_to_scenario,
    import_graph,
    read_graph,
    safe_id,
)

__all__ = [
    "GraphFormat",
    "GraphImport",
    "edgesimpy_to_scenario",
    "graph_to_scenario",
    "import_edgesimpy",
    "import_graph",
    "read_graph",
    "safe_id",
]
