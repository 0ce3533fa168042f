"""The CLI's config file: named contexts (server, token, CA), as kubeconfig has them.

The file is ``$SUANWANG_CONFIG``, else ``$XDG_CONFIG_HOME/suanwang/config.yaml``, else
``~/.config/suanwang/config.yaml``::

    current-context: prod
    contexts:
      prod:
        server: https://cfn.example.org:8443
        token_file: prod.token        # or token: <the bearer token itself>
        ca_file: /etc/suanwang/ca.pem

Relative paths are read from the file's folder. A server command takes each of ``--url``,
``--token`` and ``--ca-file`` from, in order: its flag, its environment variable, the context
(``--context NAME`` or ``SUANWANG_CONTEXT``, else ``current-context``), the built-in default.
A bad file is one error line naming the file and the field. The file is written atomically
and readable by its owner only (0600): it may hold a token.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import typer

from suanwang.cli.common import fail

CONTEXT_META = "suanwang.context"
"""Key in the click context's shared ``meta`` of the ``--context`` name the root was given."""

_FIELDS = ("server", "token", "token_file", "ca_file")
MAX_CONFIG_BYTES = 1_000_000
"""Largest config file read: a config file is a few lines."""


class ConfigError(ValueError):
    """A config file that cannot be read or used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Context:
    """Where a server is and how to reach it; ``None`` where the context does not say."""

    server: str | None = None
    token: str | None = None
    token_file: str | None = None
    ca_file: str | None = None


@dataclass(frozen=True, slots=True)
class CliConfig:
    """The whole config file: the contexts by name and the one in use."""

    contexts: dict[str, Context] = field(default_factory=dict)
    current_context: str | None = None


def config_path() -> Path:
    """The config file this process reads and writes (it need not exist)."""
    given = os.environ.get("SUANWANG_CONFIG")
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "suanwang" / "config.yaml"


def load_config(path: Path) -> CliConfig:
    """The config in ``path``; an empty one when the file does not exist.

    Raises:
        ConfigError: the file is unreadable, not YAML, or a field has the wrong shape.
    """
    import yaml  # noqa: PLC0415 (keeps `suanwang --help` fast)

    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return CliConfig()
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path}: larger than {MAX_CONFIG_BYTES:,} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config {path}: not YAML: {' '.join(str(exc).split())}") from None
    return _parsed(path, {} if data is None else data)


def _parsed(path: Path, data: Any) -> CliConfig:
    def bad(where: str, message: str) -> ConfigError:
        return ConfigError(f"config {path}: {where}: {message}")

    if not isinstance(data, dict):
        raise bad("(top)", f"a mapping of contexts and current-context, got {type(data).__name__}")
    unknown = sorted(str(key) for key in data if key not in {"contexts", "current-context"})
    if unknown:
        raise bad(unknown[0], "unknown field (known: contexts, current-context)")
    entries = data.get("contexts") or {}
    if not isinstance(entries, dict):
        raise bad("contexts", "a mapping of context names to contexts")
    contexts: dict[str, Context] = {}
    for name, entry in entries.items():
        where = f"contexts.{name}"
        if not isinstance(entry, dict):
            raise bad(where, "a mapping of server, token, token_file and ca_file")
        for key, value in entry.items():
            if key not in _FIELDS:
                raise bad(f"{where}.{key}", f"unknown field (known: {', '.join(_FIELDS)})")
            if value is not None and not isinstance(value, str):
                raise bad(f"{where}.{key}", f"a string, got {type(value).__name__}")
        if entry.get("token") and entry.get("token_file"):
            raise bad(where, "give token or token_file, not both")
        contexts[str(name)] = Context(**{key: entry.get(key) for key in _FIELDS})
    current = data.get("current-context")
    if current is not None and str(current) not in contexts:
        raise bad("current-context", f"no context named {current!r}")
    return CliConfig(contexts, None if current is None else str(current))


def save_config(config: CliConfig, path: Path) -> None:
    """Write ``config`` to ``path`` atomically (a temporary file renamed over it), mode 0600."""
    import yaml  # noqa: PLC0415

    data: dict[str, Any] = {}
    if config.current_context is not None:
        data["current-context"] = config.current_context
    data["contexts"] = {
        name: {key: getattr(context, key) for key in _FIELDS if getattr(context, key)}
        for name, context in config.contexts.items()
    }
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def updated(context: Context, **given: str | None) -> Context:
    """``context`` with the fields ``given`` (not None) replaced; a token drops the token file."""
    fields: dict[str, str | None] = {k: v for k, v in given.items() if v is not None}
    if "token" in fields:
        fields.setdefault("token_file", None)
    elif "token_file" in fields:
        fields["token"] = None
    return replace(context, **fields)


def chosen_context(path: Path, name: str | None) -> tuple[str, Context] | None:
    """The context named ``name`` (or the current one) and its name; None when there is none.

    Raises:
        ConfigError: the file is bad, or ``name`` is not one of its contexts.
    """
    config = load_config(path)
    wanted = name or config.current_context
    if wanted is None:
        return None
    context = config.contexts.get(wanted)
    if context is None:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise ConfigError(f"config {path}: no context named {wanted!r} (contexts: {known})")
    return wanted, context


def context_value(path: Path, name: str, context: Context, key: str) -> str | None:
    """One field of a context as a command uses it: a token file read, paths from the file's folder.

    Raises:
        ConfigError: the token file cannot be read or is empty.
    """
    folder = path.parent
    if key == "token" and context.token_file:
        token_path = folder / Path(context.token_file).expanduser()
        try:
            token = token_path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            where = f"contexts.{name}.token_file"
            raise ConfigError(f"config {path}: {where}: cannot read {token_path}: {exc}") from None
        if not token:
            raise ConfigError(f"config {path}: contexts.{name}.token_file: {token_path} is empty")
        return token
    value: str | None = getattr(context, key)
    if key == "ca_file" and value:
        return str(folder / Path(value).expanduser())
    return value


def from_context(key: str) -> Callable[[typer.Context, typer.CallbackParam, Any], Any]:
    """An option callback: a value left at its default is taken from the context, if it says.

    Flags and environment variables win; the context comes next; the default last.
    """

    def resolve(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        source = ctx.get_parameter_source(param.name or "")
        if source is not None and source.name not in {"DEFAULT", "DEFAULT_MAP"}:
            return value
        path = config_path()
        try:
            found = chosen_context(path, ctx.meta.get(CONTEXT_META))
            if found is None:
                return value
            given = context_value(path, *found, key)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        return value if given is None else given

    return resolve
