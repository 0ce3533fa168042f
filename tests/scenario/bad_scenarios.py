"""The table of bad scenario inputs shared by the CLI and the API tests.

Each kind is a file name (its suffix picks the format), its content and a fragment the one-line
error must hold. Kinds marked ``file_only`` have no text an upload could carry (a directory,
bytes that are not UTF-8, a size past the file limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MINI = (
    "version: 1\nname: t\nsites:\n  - {id: s, tier: hub}\n  - {id: u, tier: edge}\n"
    "nodes:\n  - {id: n, site: s, cpu_cores: 4, mem_gib: 8}\n"
    "links:\n  - {a: s, b: u, bandwidth_mbps: 100, latency_ms: 1}\n"
)
"""A valid scenario the kinds below break one way each."""

BIG = str(10**400)
HUGE_FILE_BYTES = 65 * 1024 * 1024  # past the 64 MiB default; written sparse
DIRECTORY = b"<directory>"


def _nested_json(depth: int) -> bytes:
    return (
        '{"version": 1, "name": "t", "description": ' + "[" * depth + "]" * depth + "}"
    ).encode()


def _laughs() -> bytes:
    """The "billion laughs": 9 levels of 9 aliases, 387 million strings from 400 bytes."""
    text = "version: 1\nname: t\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for level in range(1, 10):
        text += f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]\n"
    return text.encode()


def _merge_laughs() -> bytes:
    """The same growth through mappings and merge keys."""
    text = "version: 1\nname: t\nm0: &m0 {" + ", ".join(f"k{i}: v" for i in range(9)) + "}\n"
    for level in range(1, 8):
        items = ", ".join(f"k{i}: *m{level - 1}" for i in range(9))
        text += f"m{level}: &m{level} {{<<: *m{level - 1}, {items}}}\n"
    return text.encode()


def _block_nesting(depth: int) -> bytes:
    body = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "leaf: 1\n"
    return ("version: 1\nname: t\nlabels_tree:\n" + body).encode()


def _node(fields: str) -> bytes:
    """MINI with the node's fields (``cpu_cores: 4, mem_gib: 8``) replaced."""
    return MINI.replace("cpu_cores: 4, mem_gib: 8", fields).encode()


@dataclass(frozen=True)
class Bad:
    """One kind of bad input."""

    kind: str
    name: str
    content: bytes
    needle: str
    file_only: bool = False

    def write(self, folder: Path) -> Path:
        """The kind as a file (or directory) in ``folder``."""
        path = folder / self.kind / self.name
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.content is DIRECTORY:
            path.mkdir()
        elif self.kind == "file-past-size-limit":
            with path.open("wb") as file:
                file.truncate(HUGE_FILE_BYTES)  # sparse: costs no disk
        else:
            path.write_bytes(self.content)
        return path

    @property
    def fmt(self) -> str:
        """The format an upload of the kind names."""
        return "json" if self.name.endswith(".json") else "yaml"


BAD: list[Bad] = [
    Bad("json-nested-10000", "s.json", _nested_json(10_000), "nested deeper than the limit"),
    Bad("json-nested-40", "s.json", _nested_json(40), "nested deeper than the limit of 32"),
    Bad("yaml-flow-nested-10000", "s.yaml", _nested_json(10_000), "nest"),
    Bad("yaml-block-nested-40", "s.yaml", _block_nesting(40), "nested deeper than the limit"),
    Bad("yaml-billion-laughs", "s.yaml", _laughs(), "aliases expand the document"),
    Bad("yaml-merge-key-laughs", "s.yaml", _merge_laughs(), "aliases expand the document"),
    Bad(
        "yaml-alias-cycle", "s.yaml", b"version: 1\nname: t\nx: &a [1, *a]\n", "contains the alias"
    ),
    Bad("file-past-size-limit", "s.yaml", b"", "larger than the limit", file_only=True),
    Bad(
        "yaml-past-its-size-limit",
        "s.yaml",
        b"version: 1\nname: t\n" + b"# padding\n" * 500_000,  # 5 MB, over the 4 MiB for YAML
        "write large scenarios as JSON",
        file_only=True,
    ),
    Bad(
        "duplicate-top-key",
        "s.yaml",
        MINI.replace("name: t\n", "name: t\nname: u\n").encode(),
        "name: key given twice",
    ),
    Bad(
        "duplicate-nested-key",
        "s.yaml",
        _node("cpu_cores: 4, cpu_cores: 8"),
        "nodes[0].cpu_cores: key given twice",
    ),
    Bad(
        "duplicate-json-key",
        "s.json",
        b'{"version": 1, "name": "t", "name": "u"}',
        "name: key given twice",
    ),
    Bad("yaml-inf-float", "s.yaml", _node("cpu_cores: 4, mem_gib: .inf"), "nodes[0].mem_gib"),
    Bad(
        "yaml-minus-inf",
        "s.yaml",
        MINI.replace("latency_ms: 1", "latency_ms: -.inf").encode(),
        "links[0].latency_ms",
    ),
    Bad(
        "yaml-nan",
        "s.yaml",
        MINI.replace("bandwidth_mbps: 100", "bandwidth_mbps: .nan").encode(),
        "links[0].bandwidth_mbps: should be a finite number",
    ),
    Bad(
        "yaml-1e400",
        "s.yaml",
        MINI.replace("latency_ms: 1", "latency_ms: 1.0e+400").encode(),
        "links[0].latency_ms: should be a finite number",
    ),
    Bad(
        "json-infinity",
        "s.json",
        b'{"version": 1, "name": "t", "workload": {"duration_s": Infinity}}',
        "workload.duration_s: should be a finite number",
    ),
    Bad(
        "json-minus-infinity",
        "s.json",
        b'{"version": 1, "name": "t", "workload": {"duration_s": -Infinity}}',
        "workload.duration_s",
    ),
    Bad(
        "json-nan",
        "s.json",
        b'{"version": 1, "name": "t", "workload": {"duration_s": NaN}}',
        "workload.duration_s: should be a finite number",
    ),
    Bad(
        "json-1e400",
        "s.json",
        b'{"version": 1, "name": "t", "workload": {"duration_s": 1e400}}',
        "workload.duration_s: should be a finite number",
    ),
    Bad(
        "int-10e400-cpu-cores",
        "s.yaml",
        _node(f"cpu_cores: {BIG}"),
        "nodes[0].cpu_cores: should be less than or equal to",
    ),
    Bad(
        "int-10e400-in-float-field",
        "s.yaml",
        _node(f"cpu_cores: 4, mem_gib: {BIG}"),
        "nodes[0].mem_gib",
    ),
    Bad(
        "int-10e400-json",
        "s.json",
        ('{"version": 1, "name": "t", "workload": {"seed": ' + BIG + "}}").encode(),
        "workload.seed: should be less than or equal to",
    ),
    Bad("int-5000-digits", "s.yaml", _node("cpu_cores: " + "9" * 5000), "Exceeds the limit"),
    Bad("negative-cpu-cores", "s.yaml", _node("cpu_cores: -1"), "greater than or equal to 0"),
    Bad(
        "zero-bandwidth",
        "s.yaml",
        MINI.replace("bandwidth_mbps: 100", "bandwidth_mbps: 0").encode(),
        "links[0].bandwidth_mbps: should be greater than 0",
    ),
    Bad(
        "node-count-too-high",
        "s.yaml",
        _node("cpu_cores: 4, count: 10000000"),
        "nodes[0].count: should be less than or equal to 1000000",
    ),
    Bad(
        "seed-past-64-bits",
        "s.yaml",
        MINI.replace("name: t\n", "name: t\nworkload: {seed: 18446744073709551616}\n").encode(),
        "workload.seed",
    ),
    Bad(
        "version-true",
        "s.yaml",
        MINI.replace("version: 1", "version: true").encode(),
        "version: should be the integer 1 (got True)",
    ),
    Bad(
        "version-float",
        "s.yaml",
        MINI.replace("version: 1", "version: 1.0").encode(),
        "version: should be the integer 1 (got 1.0)",
    ),
    Bad(
        "version-string",
        "s.json",
        b'{"version": "1", "name": "t"}',
        "version: should be the integer 1",
    ),
    Bad(
        "version-2",
        "s.yaml",
        MINI.replace("version: 1", "version: 2").encode(),
        "version: should be 1",
    ),
    Bad(
        "string-for-int",
        "s.yaml",
        _node("cpu_cores: '4'"),
        "nodes[0].cpu_cores: should be a valid integer",
    ),
    Bad(
        "bool-for-float",
        "s.yaml",
        _node("cpu_cores: 4, mem_gib: true"),
        "nodes[0].mem_gib: should be a valid number",
    ),
    Bad(
        "bad-utf8",
        "s.yaml",
        MINI.encode() + b"description: \xff\xfe\n",
        "not UTF-8 text",
        file_only=True,
    ),
    Bad("binary", "s.yaml", bytes(range(256)) * 4, "a binary file", file_only=True),
    Bad("directory", "s.yaml", DIRECTORY, "cannot read the file", file_only=True),
    Bad("unknown-suffix", "s.txt", MINI.encode(), "unknown file type", file_only=True),
    Bad("empty", "s.yaml", b"", "an empty document"),
    Bad("comments-only", "s.yaml", b"# nothing here\n\n", "an empty document"),
    Bad("top-level-list", "s.yaml", b"- version: 1\n", "expected a mapping"),
    Bad("top-level-scalar", "s.json", b"42", "expected a mapping"),
    Bad(
        "unknown-top-field",
        "s.yaml",
        MINI.replace("name: t\n", "name: t\nsitez: []\n").encode(),
        "sitez: unknown field",
    ),
    Bad(
        "unknown-nested-field",
        "s.yaml",
        _node("cpu_cores: 4, gpus: 2"),
        "nodes[0].gpus: unknown field",
    ),
    Bad("yaml-syntax", "s.yaml", b"version: 1\nname: [unclosed\n", "not valid YAML"),
    Bad("json-syntax", "s.json", b'{"version": 1,', "not valid JSON"),
    Bad(
        "python-object-tag",
        "s.yaml",
        b"version: 1\nname: !!python/object:os.system {}\n",
        "not valid YAML",
    ),
    Bad("unhashable-key", "s.yaml", b"version: 1\nname: t\n? [a, b]\n: 1\n", "not valid YAML"),
    Bad(
        "megabyte-value",
        "s.yaml",
        ("version: 1\nname: " + "x" * 1_000_000 + "\n").encode(),
        "name: ",
    ),
    Bad(
        "date-for-string",
        "s.yaml",
        b"version: 1\nname: 2024-01-01\n",
        "name: should be a valid string",
    ),
    Bad(
        "unknown-site", "s.yaml", MINI.replace("site: s,", "site: mars,").encode(), "nodes[0].site"
    ),
]
"""Every kind of bad input; ``kind`` names are unique."""
