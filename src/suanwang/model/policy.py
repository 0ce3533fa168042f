"""Data governance: the region hierarchy residency patterns match by, and data policies per tag.

Region codes are hierarchical, their segments split on ``-`` (``CN``, ``CN-GD``, ``CN-GD-SZ``).
A pattern contains a code when the code's leading segments are the pattern's segments: ``CN``
contains ``CN``, ``CN-GD`` and ``CN-GD-SZ``; ``CN-G`` contains ``CN-G`` and its children but
not ``CN-GD``. A plain string prefix would let ``CN-G`` leak data into ``CN-GD``.

A ``DataPolicy`` says where data carrying one tag may be processed: in which regions, at which
tiers, on whose nodes. A task with several tags must satisfy every one of their policies.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.model.enums import Tier

REGION_SEPARATOR = "-"


def region_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable region pattern (None when it is).

    A pattern is one or more non-empty segments joined by ``-``, with no white space: an empty
    or blank pattern would contain no region at all, which is never what its author meant.
    """
    if not pattern.strip():
        return "a region pattern must not be empty or blank"
    if any(character.isspace() for character in pattern):
        return "a region pattern must not contain white space"
    if "" in pattern.split(REGION_SEPARATOR):
        return f"a region pattern is non-empty segments joined by {REGION_SEPARATOR!r}"
    return None


def check_region_pattern(pattern: str) -> str:
    """``pattern`` itself; raises ``ValueError`` naming it when it is not usable."""
    problem = region_pattern_problem(pattern)
    if problem is not None:
        raise ValueError(f"{problem}, got {pattern!r}")
    return pattern


def region_within(code: str, pattern: str) -> bool:
    """Whether region ``code`` lies inside ``pattern`` by the hierarchy (see the module doc)."""
    return code == pattern or code.startswith(pattern + REGION_SEPARATOR)


def check_data_tag(tag: str) -> str:
    """``tag`` itself; raises ``ValueError`` when it is empty or holds white space."""
    if not tag or any(character.isspace() for character in tag):
        raise ValueError(f"a data tag is a non-empty word without white space, got {tag!r}")
    return tag


@dataclass(frozen=True, slots=True)
class DataPolicy:
    """Where data carrying ``tag`` may be processed; an empty field leaves that aspect free.

    Attributes:
        tag: The data tag the policy governs (``medical``, ``personal``...).
        regions: Region patterns (hierarchical) a node's site must lie in; empty: any region.
        tiers: Tiers a node's site may have; empty: any tier.
        owners: Owners (``Node.owner``) a node may have; empty: any owner.
    """

    tag: str
    regions: tuple[str, ...] = ()
    tiers: frozenset[Tier] = frozenset()
    owners: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_data_tag(self.tag)
        for pattern in self.regions:
            check_region_pattern(pattern)
        if any(not owner.strip() for owner in self.owners):
            raise ValueError(f"data policy {self.tag!r}: an owner must not be empty")

    def allows(self, region: str, tier: Tier, owner: str) -> bool:
        """Whether a node in ``region`` at ``tier`` owned by ``owner`` may hold the data."""
        return (
            (not self.regions or any(region_within(region, p) for p in self.regions))
            and (not self.tiers or tier in self.tiers)
            and (not self.owners or owner in self.owners)
        )

    def describe(self) -> str:
        """The policy's terms in words, for refusals and diagnoses."""
        terms = [
            f"{name} {sorted(values)}"
            for name, values in (
                ("regions", self.regions),
                ("tiers", [str(t) for t in self.tiers]),
                ("owners", self.owners),
            )
            if values
        ]
        return f"data policy {self.tag!r} ({'; '.join(terms) or 'no restriction'})"
