"""suanwang benchmarks: ``python -m benchmarks`` (``make bench``); figures go to BENCHMARKS.md.

Each suite is a module ``bench_<name>.py`` with ``main(argv) -> int`` taking at least ``--runs N``
and ``--quick``; ``python -m benchmarks`` runs them all (``--only NAME`` picks). Measurements are
repeated and reported as median and spread, never asserted in unit tests (DESIGN.md §5).
"""
