"""What an agent sends about its runs: logs cut to their first and last parts."""

from __future__ import annotations

from suanwang.execution.agent_runs import cut


def test_short_logs_go_whole() -> None:
    assert cut("abc", limit=100) == "abc"


def test_long_logs_keep_their_first_and_last_parts_within_the_limit() -> None:
    text = "".join(f"line {n}\n" for n in range(10_000))
    kept = cut(text, limit=1000)
    assert len(kept) <= 1000
    assert kept.startswith("line 0\nline 1\n")
    assert kept.endswith("line 9999\n")
    dropped = int(kept.split("[... ")[1].split(" characters dropped")[0])
    gap = kept[kept.index("\n[... ") : kept.index("dropped ...]\n") + len("dropped ...]\n")]
    assert len(kept) - len(gap) + dropped == len(text)
