"""``python -m benchmarks [--only SUITE] [--quick] [--runs N] [--nodes N] ...`` (``make bench``).

Runs every suite of this package, the ``scenario`` suite first. A suite is a module
``benchmarks/bench_<name>.py`` with ``main(argv) -> int`` that takes at least ``--runs N`` and
``--quick``. ``--only SUITE`` (repeatable) picks suites; the other options go to the scenario suite
as they are (``-h`` shows them), and ``--runs``/``--quick`` go to every other suite.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import benchmarks


def _suites() -> list[str]:
    names = [
        module.name.removeprefix("bench_")
        for module in pkgutil.iter_modules(benchmarks.__path__)
        if module.name.startswith("bench_")
    ]
    return sorted(names, key=lambda name: (name != "scenario", name))


def _without_only(argv: list[str]) -> list[str]:
    rest: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--only":
            skip = True
        elif not arg.startswith("--only="):
            rest.append(arg)
    return rest


def main(argv: list[str] | None = None) -> int:
    """Run the chosen suites in turn; the worst exit status of them."""
    argv = sys.argv[1:] if argv is None else argv
    suites = _suites()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", add_help=False)
    parser.add_argument("--only", action="append", choices=suites)
    parser.add_argument("--runs")
    parser.add_argument("--quick", action="store_true")
    known, _ = parser.parse_known_args(argv)
    scenario_argv = _without_only(argv)
    common = (["--runs", known.runs] if known.runs else []) + (["--quick"] if known.quick else [])
    worst = 0
    for name in known.only or suites:
        print(f"== {name} ==", flush=True)
        suite = importlib.import_module(f"benchmarks.bench_{name}")
        worst = max(worst, int(suite.main(scenario_argv if name == "scenario" else common)))
    return worst


raise SystemExit(main())
