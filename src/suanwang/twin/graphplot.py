"""The figure of a graph comparison: latency and traffic per placement, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from suanwang.twin.report import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def comparison_figure(data: dict[str, Any]) -> Figure:
    """Bars of end-to-end latency and makespan (ms), and of traffic and data moved (GB).

    ``data`` is ``GraphComparison.as_data``.
    """
    rows = data["variants"]
    names = [row["variant"] for row in rows]
    figure, axes = new_figure(1, 2, (10, 4))
    latency, traffic = axes[0]
    panels = (
        (latency, "ms (twin)", (("end_to_end_ms", "end to end"), ("makespan_ms", "makespan"))),
        (traffic, "GB (twin)", (("traffic_gb", "GB x links"), ("moved_gb", "moved GB"))),
    )
    width = 0.4
    for ax, unit, bars in panels:
        for offset, (key, label) in enumerate(bars):
            positions = [i + (offset - 0.5) * width for i in range(len(rows))]
            ax.bar(positions, [row[key] for row in rows], width, label=label)
        ax.set_xticks(range(len(rows)), names)
        ax.set_ylabel(unit)
        ax.legend()
    figure.suptitle(f"{data['graph']} from {data['ingress_site']}")
    return figure
