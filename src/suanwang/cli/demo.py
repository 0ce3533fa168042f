"""``suanwang demo``: the main job on the embedded default.

Today that is what exists: a built-in scenario loaded through validation and summarised; a batch
of its requests placed under every scheduling profile and by the batch flow, side by side; and a
seeded topology generated and checked for a lossless round trip. The live controller, agents and
twin join the demo as they are built.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.panel import Panel

from suanwang import __version__
from suanwang.cli.common import bad_input_exits, console
from suanwang.cli.plan import comparison_table
from suanwang.cli.scenario import summary_tables, workload_table
from suanwang.model import Scenario
from suanwang.scenario import ScenarioError, dumps_scenario, loads_scenario, resolve_scenario
from suanwang.scenario.summary import summarise
from suanwang.scheduling import builtin_profiles


def demo(
    scenario: Annotated[
        str, typer.Option("--scenario", help="Built-in name or scenario file to show.")
    ] = "east-west",
    nodes: Annotated[
        int, typer.Option("--nodes", min=1, max=1_000_000, help="Size of the generated topology.")
    ] = 10_000,
    tasks: Annotated[
        int, typer.Option("--tasks", min=1, max=10_000, help="Requests placed per profile.")
    ] = 200,
) -> None:
    """Show what suanwang does today on a built-in scenario (no set-up needed)."""
    console.print(
        Panel.fit(
            f"suanwang {__version__} — computing force network (算力网络)\n"
            "This demo loads a built-in scenario through validation and summarises it, places a\n"
            "batch of its requests under every scheduling profile, then generates a large seeded\n"
            "topology and checks that it survives a file round trip.\n"
            "Not in this demo yet: the live controller, agents, execution and the digital twin.",
            title="make demo",
        )
    )
    started = time.perf_counter()
    with bad_input_exits(ScenarioError):
        loaded = resolve_scenario(scenario)
    console.print(f"loaded [bold]{loaded.name}[/] in {time.perf_counter() - started:.2f} s")
    if loaded.description:
        console.print(loaded.description.strip(), highlight=False)
    for table in (*summary_tables(summarise(loaded)), workload_table(loaded)):
        console.print(table)
    _compare_profiles(loaded, tasks)

    from suanwang.scenario.generate import generate_scenario  # noqa: PLC0415  # keeps start-up fast

    started = time.perf_counter()
    generated = generate_scenario(nodes, seed=1)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    text = dumps_scenario(generated, "json")
    reloaded = loads_scenario(text, "json", source="generated.json")
    round_trip_s = time.perf_counter() - started
    topology = generated.topology
    verdict = "[green]lossless[/]" if reloaded == generated else "[red]NOT lossless[/]"
    console.print(
        f"generated {len(topology.nodes):,} nodes at {len(topology.sites):,} sites with "
        f"{len(topology.links):,} links in {generate_s:.2f} s; JSON round trip "
        f"({len(text) / 1e6:.1f} MB) in {round_trip_s:.2f} s: {verdict}"
    )
    console.print(
        "next: [bold]suanwang scenario list[/], [bold]suanwang scenario show metro-edge[/], "
        "[bold]suanwang scenario generate --nodes 1000 -o big.yaml[/], "
        "[bold]suanwang --help[/]"
    )
    if reloaded != generated:
        raise typer.Exit(1)


def _compare_profiles(scenario: Scenario, tasks: int) -> None:
    """Place one seeded batch of the scenario's requests under every built-in profile."""
    # Imported here: OR-Tools and the solvers are slow to import.
    from suanwang.scheduling.batch import compare_profiles, draw_batch  # noqa: PLC0415

    started = time.perf_counter()
    requests = draw_batch(scenario.workload, tasks, seed=0)
    with console.status(f"placing {tasks} requests under every profile"):
        result = compare_profiles(
            scenario.topology, requests, profiles=builtin_profiles(), optimum=False
        )
    console.print(
        comparison_table(f"{scenario.name}: {tasks} requests under every profile", result)
    )
    console.print(
        f"placed in {time.perf_counter() - started:.1f} s; SLA % counts requests placed within "
        "their latency budget or deadline, price budget, residency and trust. The optimum: "
        f"[bold]suanwang plan {scenario.name} --compare[/]",
        highlight=False,
    )
