"""Scheduling profiles as data: which plugins run at each point, and the weights of the scores.

A profile file is YAML mapping profile names to entries::

    my-profile:
      description: What it is for.
      filters: [node-health, resource-fit, latency-budget]   # run in this order (by stage)
      route: latency-shortest                                 # optional; this is the default
      scores: {end-to-end: 3, least-loaded: 1}                # plugin: weight (> 0)
      hysteresis: 0.02      # keep the previous choice unless another is this much better (0..1)
      affinity: true        # requests with one affinity key keep their node while it fits
      args: {random: {seed: 7}}                               # per-plugin arguments

The built-in profiles are in ``profiles.yaml`` beside this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEFAULT_ROUTE = "latency-shortest"
_KEYS = {"description", "filters", "route", "scores", "hysteresis", "affinity", "args"}


class ProfileError(ValueError):
    """A profile is malformed; the message names the profile and the field."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One scheduling profile.

    Attributes:
        name: Profile name.
        description: What it is for.
        filters: Filter plugin names, in order.
        route: Route plugin name.
        scores: Score plugin names with their weights.
        hysteresis: Share (0..1) of the best total score within which the previous choice for
            the same flow is kept (CATS: no route oscillation).
        affinity: Whether requests with an affinity key keep their node while it passes.
        args: Per-plugin arguments.
    """

    name: str
    description: str = ""
    filters: tuple[str, ...] = ()
    route: str = DEFAULT_ROUTE
    scores: Mapping[str, float] = field(default_factory=dict)
    hysteresis: float = 0.0
    affinity: bool = True
    args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, name: str, data: Any) -> Profile:
        """A profile from parsed YAML; raises ``ProfileError`` naming the bad field."""
        if not isinstance(data, Mapping):
            raise ProfileError(f"profile {name!r}: expected a mapping, got {type(data).__name__}")
        unknown = set(data) - _KEYS
        if unknown:
            raise ProfileError(f"profile {name!r}: unknown field(s) {sorted(unknown)}")
        filters = data.get("filters", [])
        if not isinstance(filters, list) or not all(isinstance(f, str) for f in filters):
            raise ProfileError(f"profile {name!r}: filters must be a list of plugin names")
        scores = data.get("scores", {})
        if not isinstance(scores, Mapping) or not scores:
            raise ProfileError(f"profile {name!r}: scores must map at least one plugin to a weight")
        for plugin, weight in scores.items():
            if (
                not isinstance(weight, int | float)
                or isinstance(weight, bool)
                or not math.isfinite(weight)
                or weight <= 0
            ):
                raise ProfileError(
                    f"profile {name!r}: scores.{plugin} must be a positive finite number"
                )
        hysteresis = data.get("hysteresis", 0.0)
        if (
            not isinstance(hysteresis, int | float)
            or isinstance(hysteresis, bool)
            or not 0.0 <= hysteresis < 1.0
        ):
            raise ProfileError(f"profile {name!r}: hysteresis must lie in [0, 1)")
        args = data.get("args", {})
        if not isinstance(args, Mapping) or not all(isinstance(v, Mapping) for v in args.values()):
            raise ProfileError(f"profile {name!r}: args must map plugin names to mappings")
        affinity = data.get("affinity", True)
        if not isinstance(affinity, bool):
            raise ProfileError(f"profile {name!r}: affinity must be true or false")
        return cls(
            name=name,
            description=str(data.get("description", "")).strip(),
            filters=tuple(filters),
            route=str(data.get("route", DEFAULT_ROUTE)),
            scores={str(k): float(v) for k, v in scores.items()},
            hysteresis=float(hysteresis),
            affinity=affinity,
            args={str(k): dict(v) for k, v in args.items()},
        )


def load_profiles(text: str, source: str = "<profiles>") -> dict[str, Profile]:
    """Profiles from YAML text; raises ``ProfileError`` naming ``source`` on bad input."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ProfileError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(data, Mapping):
        raise ProfileError(f"{source}: expected a mapping of profile names to profiles")
    try:
        return {str(name): Profile.from_mapping(str(name), entry) for name, entry in data.items()}
    except ProfileError as error:
        raise ProfileError(f"{source}: {error}") from None


def builtin_profiles() -> dict[str, Profile]:
    """The built-in profiles, in file order (``cats-joint`` is the default)."""
    text = resources.files("suanwang.scheduling").joinpath("profiles.yaml").read_text("utf-8")
    return load_profiles(text, "profiles.yaml (built-in)")


def resolve_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or the only/first profile of a YAML file.

    Raises:
        ProfileError: neither a built-in name nor a readable profile file.
    """
    builtins = builtin_profiles()
    if name_or_path in builtins:
        return builtins[name_or_path]
    path = Path(name_or_path)
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ProfileError(f"{path}: cannot read the file: {error.strerror}") from None
        profiles = load_profiles(text, str(path))
        if not profiles:
            raise ProfileError(f"{path}: the file defines no profile")
        return next(iter(profiles.values()))
    raise ProfileError(f"unknown profile {name_or_path!r}; built-ins: {', '.join(builtins)}")
