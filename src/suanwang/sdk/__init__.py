"""The Python SDK: a thin typed client of a suanwang server's HTTP API.

Example::

    from suanwang.sdk import ApiError, Client

    with Client("http://127.0.0.1:8080", token) as cfn:
        spec = {"task_type": "video-analytics-frame", "ingress_site": "term-futian"}
        task = cfn.submit_task(spec)
        print(task["state"], task["placement"] and task["placement"]["node_id"])
"""

from suanwang.sdk.client import ApiError, Client
from suanwang.sdk.types import (
    Catalogue,
    Explanation,
    Node,
    Problem,
    Retirement,
    Site,
    Task,
    TaskPage,
    TaskSpec,
    TaskType,
    TopologyChange,
)

__all__ = [
    "ApiError",
    "Catalogue",
    "Client",
    "Explanation",
    "Node",
    "Problem",
    "Retirement",
    "Site",
    "Task",
    "TaskPage",
    "TaskSpec",
    "TaskType",
    "TopologyChange",
]
