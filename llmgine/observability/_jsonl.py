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
import json.encoder
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import cattrs
from cattrs.gen import make_dict_structure_fn, override

from llmgine import _json
from llmgine._exceptions import ConfigurationError
from llmgine.observability._content import without_content
from llmgine.observability._redact import redact_record
from llmgine.tracing import RecordKind, TraceRecord

__all__ = ["JsonlHandler", "make_converter", "read_jsonl"]

# JSON-safe as they are (finite floats too, but they need a look)
_PLAIN = frozenset({str, int, bool, type(None)})


def _json_safe(value: object) -> object:
    if type(value) in _PLAIN:
        return value
    # before the isinstance() checks: the one against the Mapping ABC is slow
    if type(value) is tuple or type(value) is list:
        return [_json_safe(v) for v in value]
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
    # string keys and plain values, the common case, cost no call
    safe: dict[str, object] = {}
    plain = _PLAIN
    for key, value in attributes.items():
        safe[key if type(key) is str else str(key)] = (
            value if type(value) in plain else _json_safe(value)
        )
    return safe


def _unstructure_record(record: TraceRecord) -> dict[str, Any]:
    # Written out by hand: the dict make_dict_unstructure_fn with
    # omit_if_default would build, at half its cost.
    data: dict[str, Any] = {
        # what .value returns, without the enum property's Python-level call
        "kind": record.kind._value_,
        "name": record.name,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "at": record.at,
    }
    # absent fields read back as their defaults (None, {}): lines stay short,
    # and jq sees null for them all the same
    if record.parent_id is not None:
        data["parent_id"] = record.parent_id
    if record.duration is not None:
        data["duration"] = record.duration
    if record.actor is not None:
        data["actor"] = record.actor
    if record.error is not None:
        data["error"] = record.error
    if record.error_type is not None:
        data["error_type"] = record.error_type
    if record.attributes:
        data["attributes"] = _json_safe_mapping(record.attributes)
    return data


def _structure_attributes(value: object, _: object) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise TypeError(f"'attributes' must be a JSON object (got {value!r})")
    return dict(value)


def make_converter() -> cattrs.Converter:
    """The converter between :class:`TraceRecord` and JSON-ready dicts."""
    converter = cattrs.Converter()
    converter.register_unstructure_hook(TraceRecord, _unstructure_record)
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


def _make_iterencode(
    make_encoder: Callable[..., Any] | None,
) -> Callable[[object, int], Iterable[str]]:
    """``iterencode(data, 0)``: compact, ASCII, strict JSON text in chunks."""
    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
    if make_encoder is None:
        return lambda data, _: encoder.iterencode(data)
    # JSONEncoder.encode() builds this C encoder afresh on every call. No
    # circular-reference markers: the data is new dicts and lists every time,
    # and a shared markers dict would keep stale entries after an error.
    iterencode: Callable[[object, int], Iterable[str]] = make_encoder(
        None,
        encoder.default,
        json.encoder.encode_basestring_ascii,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    return iterencode


# None where the C accelerator is missing
_iterencode = _make_iterencode(getattr(json.encoder, "c_make_encoder", None))
# Between two records of a batch encoded as one JSON array. Inside a string
# '"' is escaped, so only a nested object whose first key is "kind" repeats it.
_BETWEEN = '},{"kind":'


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
    Prompts and replies are written only with ``capture_content=True`` (here
    or on the :class:`Tracer`); secrets never are.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        backups: int = 3,
        capture_content: bool = False,
    ) -> None:
        self.path = Path(path)
        #: Whether this handler asked for prompt and reply content.
        self.capture_content = bool(capture_content)
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
        if not self.capture_content:
            records = [without_content(r) for r in records]
        text = _text(records)
        limit = self.max_bytes
        size = self._size + len(text)
        if limit is None or size <= limit:
            file.write(text)
        else:
            start = 0
            size = self._size
            # JSON text from ensure_ascii escapes every control character: the
            # only line breaks are the ones between records
            lines = text.splitlines(keepends=True)
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


def _text(records: Sequence[TraceRecord]) -> str:
    """The lines for ``records``, each ending in a newline."""
    try:
        data = [_unstructure(redact_record(record)) for record in records]
        # one array for the batch: a single call into the encoder
        text = "".join(_iterencode(data, 0))
    except Exception:
        # a non-finite time, or a record that cannot be written: one by one,
        # to mend the former and to fail on the first of the latter
        return "".join([_line(_unstructure(redact_record(r))) for r in records])
    if text.count(_BETWEEN) != len(data) - 1:  # the marker nested in a record
        return "".join([_line(d) for d in data])
    return text[1:-1].replace(_BETWEEN, '}\n{"kind":') + "\n"


def _line(data: dict[str, Any]) -> str:
    try:
        text = "".join(_iterencode(data, 0))
    except ValueError:  # a non-finite float
        for key in ("at", "duration"):
            if key in data:
                data[key] = _json_safe(data[key])
        text = "".join(_iterencode(data, 0))
    return text + "\n"


def read_jsonl(path: str | os.PathLike[str]) -> list[TraceRecord]:
    """Load the records a :class:`JsonlHandler` wrote to ``path``.

    A last line cut short (the process died mid-write) is skipped; any other
    line that is not a trace record (not UTF-8, not JSON, JSON nested deeper
    than ``llmgine._json.MAX_DEPTH``, or not a record's fields) raises
    :class:`ConfigurationError` naming the line. ``OSError`` is raised as is.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    records: list[TraceRecord] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(
                _converter.structure(_json.loads(line.decode("utf-8")), TraceRecord)
            )
        except Exception as exc:
            if number == len(lines):  # no newline after it: an unfinished write
                break
            shown = line[:80].decode("utf-8", "replace")
            raise ConfigurationError(
                f"{os.fspath(path)}:{number}: expected a trace record as one JSON"
                f" object per line (got {shown!r}: {_reason(exc)})"
            ) from None
    return records


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not a text file: not UTF-8"
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
