"""JSON Lines output: one trace record per line, readable with ``jq``.

Records go through a private cattrs converter (:func:`make_converter`):
``kind`` becomes its string value (``"llm.call"``), attributes become
JSON-safe (tuples and sets as lists, mappings with string keys, non-finite
floats as strings, anything else as its ``repr``). :func:`read_jsonl` loads a
file back into :class:`TraceRecord` objects.

The file is opened once, and each batch is written with one ``write`` and
one ``flush`` on the tracer task. Writes go to the OS page cache, so a batch
costs microseconds; handing each batch to a worker thread would cost more
than the write itself and would need its own ordering and back-pressure.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from llmgine._exceptions import ConfigurationError
from llmgine.actors._tracing import RecordKind, TraceRecord
from llmgine.observability._redact import redact_record

__all__ = ["JsonlHandler", "make_converter", "read_jsonl"]

_PLAIN = (str, int, bool, type(None))


def _json_safe(value: object) -> object:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):  # str subclasses such as StrEnum members
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Mapping):
        return _json_safe_mapping(value)
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [_json_safe(v) for v in value]
        try:
            return sorted(items)  # type: ignore[type-var]
        except TypeError:
            return items
    return repr(value)


def _json_safe_mapping(attributes: Mapping[Any, object]) -> dict[str, object]:
    return {str(k): _json_safe(v) for k, v in attributes.items()}


def _structure_attributes(value: object, _: object) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise TypeError(f"'attributes' must be a JSON object (got {value!r})")
    return dict(value)


def make_converter() -> cattrs.Converter:
    """The converter between :class:`TraceRecord` and JSON-ready dicts."""
    converter = cattrs.Converter()
    converter.register_unstructure_hook(
        TraceRecord,
        make_dict_unstructure_fn(
            TraceRecord,
            converter,
            # absent fields read back as their defaults (None, {}): lines stay
            # short, and jq sees null for them all the same
            _cattrs_omit_if_default=True,
            kind=override(unstruct_hook=lambda kind: kind.value),
            at=override(omit_if_default=False),
            attributes=override(unstruct_hook=_json_safe_mapping),
            # plain JSON values already: no per-field hook call
            parent_id=override(unstruct_hook=identity),
            duration=override(unstruct_hook=identity),
            actor=override(unstruct_hook=identity),
            error=override(unstruct_hook=identity),
            error_type=override(unstruct_hook=identity),
        ),
    )
    converter.register_structure_hook(
        TraceRecord,
        make_dict_structure_fn(
            TraceRecord,
            converter,
            kind=override(struct_hook=lambda value, _: RecordKind(value)),
            attributes=override(struct_hook=_structure_attributes),
        ),
    )
    return converter


_converter = make_converter()
_unstructure: Callable[[TraceRecord], dict[str, Any]] = _converter.get_unstructure_hook(
    TraceRecord
)
# One encoder, built once: json.dumps() with options builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _positive_or_none(name: str, value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value <= 0:
        raise ConfigurationError(
            f"{name!r} must be a positive int or None (got {value!r})"
        )
    return value


class JsonlHandler:
    """Append records to ``path`` as JSON Lines, rotating by size.

    With ``max_bytes`` set, a batch that would take the file past it first
    moves ``path`` to ``path.1`` (``path.1`` to ``path.2``, and so on, keeping
    ``backups`` old files; ``backups=0`` starts the file afresh). Lines are
    ASCII (non-ASCII is escaped), so their length is their size in bytes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        backups: int = 3,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = _positive_or_none("max_bytes", max_bytes)
        if type(backups) is not int or backups < 0:
            raise ConfigurationError(f"'backups' must be an int >= 0 (got {backups!r})")
        self.backups = backups
        self._file: TextIO | None = self._open()
        self._size = self._file.tell()

    def _open(self) -> TextIO:
        return open(self.path, "a", encoding="ascii", newline="\n")

    def handle(self, records: Sequence[TraceRecord]) -> None:
        """Write ``records``, one line each, and flush."""
        file = self._file
        if file is None:
            raise ConfigurationError(f"JsonlHandler({str(self.path)!r}) is closed")
        lines = [_line(redact_record(record)) for record in records]
        limit = self.max_bytes
        if limit is None:
            file.write("".join(lines))
            self._size += sum(map(len, lines))
        else:
            start = 0
            size = self._size
            for i, line in enumerate(lines):
                if size > 0 and size + len(line) > limit:
                    file.write("".join(lines[start:i]))
                    file = self._rotate()
                    start, size = i, 0
                size += len(line)
            file.write("".join(lines[start:]))
            self._size = size
        file.flush()

    def _rotate(self) -> TextIO:
        assert self._file is not None
        self._file.close()
        if self.backups > 0:
            for n in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = self._open()
        self._size = 0
        return self._file

    def close(self) -> None:
        """Flush and close the file (later batches raise)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"JsonlHandler({str(self.path)!r})"


def _line(record: TraceRecord) -> str:
    data = _unstructure(record)
    try:
        text = _encode(data)
    except ValueError:  # a non-finite float
        data["at"] = _json_safe(data["at"])
        data["duration"] = _json_safe(data["duration"])
        text = _encode(data)
    return text + "\n"


def read_jsonl(path: str | os.PathLike[str]) -> list[TraceRecord]:
    """Load the records a :class:`JsonlHandler` wrote to ``path``.

    A last line cut short (the process died mid-write) is skipped; any other
    line that is not a trace record raises :class:`ConfigurationError`.
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    records: list[TraceRecord] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(_converter.structure(json.loads(line), TraceRecord))
        except Exception as exc:
            if number == len(lines):  # no newline after it: an unfinished write
                break
            raise ConfigurationError(
                f"{os.fspath(path)}:{number}: expected a trace record as one JSON"
                f" object per line (got {line[:80]!r}: {exc})"
            ) from exc
    return records
