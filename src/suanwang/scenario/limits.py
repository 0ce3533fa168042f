"""How much a scenario file may ask of the reader: size, nesting depth and alias expansion.

The bounds exist so that no file, however crafted, costs more than its size suggests: a file
past ``max_bytes`` is refused before it is read, a document nested deeper than ``max_depth`` or
whose YAML aliases would expand it by more than ``max_alias_nodes`` is refused before any value
is built from it. Each bound is a setting read from a ``SUANWANG_SCENARIO_*`` environment
variable, so the CLI, the server and the twin apply the same ones.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SUANWANG_SCENARIO_"
"""Prefix of the limits' environment variables (``SUANWANG_SCENARIO_MAX_BYTES``...)."""

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""64 MiB: room for a generated 100,000-node scenario as JSON (about 38 MB)."""

DEFAULT_MAX_YAML_BYTES = 4 * 1024 * 1024
"""4 MiB of YAML. YAML values are built in Python, at about 1.2 s and 70 MB of memory per MB of
text (a 50 MB file: 60 s, 3.4 GB); JSON is parsed in C (38 MB: 5.6 s, 590 MB). Hand-written
scenarios are a few tens of KB (the largest built-in, 73 KB); large generated ones go as JSON."""


class ScenarioLimits(BaseSettings):
    """Bounds on one scenario file or text.

    Attributes:
        max_bytes: Largest file (or text, counted in characters) that is read at all.
        max_yaml_bytes: Largest YAML text that is parsed (see ``DEFAULT_MAX_YAML_BYTES``).
        max_depth: Deepest nesting of mappings and lists; the format itself needs 6 levels.
        max_alias_nodes: How many values YAML aliases may add beyond those written out (an
            alias to a list of 10 numbers adds 11); bounds "billion laughs" files, which expand
            a few hundred bytes into billions of values.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=1)
    max_yaml_bytes: int = Field(default=DEFAULT_MAX_YAML_BYTES, ge=1)
    max_depth: int = Field(default=32, ge=8, le=500)
    max_alias_nodes: int = Field(default=100_000, ge=0)


@cache
def default_limits() -> ScenarioLimits:
    """The limits from the environment, read once per process.

    Raises:
        pydantic.ValidationError: a ``SUANWANG_SCENARIO_*`` variable holds a bad value.
    """
    return ScenarioLimits()
