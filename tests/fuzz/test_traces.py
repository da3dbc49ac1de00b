"""Fuzz: damaged trace files, read by ``read_jsonl`` and shown by ``llmgine trace``.

A file written by :class:`JsonlHandler` is damaged at random (bytes flipped,
cut, lines swapped for hostile records: ids that loop, chains a thousand
deep, token counts that are not numbers, times no clock can show, nesting
past the limit, invalid UTF-8). ``read_jsonl`` returns records or raises
``ConfigurationError``; ``llmgine trace`` exits 0 or 2, whether it reads the
file once or follows it.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from llmgine import ConfigurationError
from llmgine.actors import RecordKind, TraceRecord
from llmgine.cli import main
from llmgine.cli._trace import follow
from llmgine.observability import JsonlHandler, read_jsonl

from ._strategies import DEEP, deep_text, fuzz, json_values


def _clean_file(path: Path, count: int) -> bytes:
    handler = JsonlHandler(path)
    records = [
        TraceRecord(
            kind=RecordKind.LLM_CALL if i % 2 else RecordKind.MESSAGE,
            name=f"r{i}",
            trace_id="t1",
            span_id=f"s{i}",
            parent_id=f"s{i - 1}" if i else None,
            at=1000.0 + i,
            duration=0.5,
            attributes={"gen_ai.usage.input_tokens": i},
        )
        for i in range(count)
    ]
    handler.handle(records)
    handler.close()
    return path.read_bytes()


def _record(**fields: object) -> str:
    base: dict[str, object] = {
        "kind": "llm.call",
        "name": "n",
        "trace_id": "t1",
        "span_id": "s1",
        "at": 1.0,
        "duration": 0.1,
    }
    base.update(fields)
    return json.dumps(base)


def _chain(length: int) -> str:
    return "\n".join(
        _record(span_id=f"c{i}", parent_id=f"c{i - 1}" if i else None)
        for i in range(length)
    )


hostile_lines = st.one_of(
    st.just(_record(parent_id="s1")),  # its own parent
    st.just(
        _record(span_id="a", parent_id="b") + "\n" + _record(span_id="b", parent_id="a")
    ),
    # chains past the drawing limit; a thousand deep now and then (it is slow
    # to draw, and the unit tests have one)
    st.sampled_from([40] * 9 + [1000]).map(_chain),
    st.just(_record(attributes={"gen_ai.usage.input_tokens": "12abc"})),
    st.sampled_from([1e300, -1e300, 1e19]).map(lambda at: _record(at=at)),
    st.just('{"kind":"message","name":"n","trace_id":"t","span_id":"s","at":NaN}'),
    st.sampled_from(DEEP).map(deep_text),
    json_values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.builds(
        _record,
        kind=st.sampled_from([k.value for k in RecordKind]) | json_values,
        name=json_values,
        trace_id=json_values,
        span_id=json_values,
        attributes=json_values,
    ).filter(bool),
)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        data = _clean_file(Path(tmp) / "t.jsonl", draw(st.integers(1, 6)))
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "bytes"]))
        index = draw(st.integers(0, len(lines) - 1))
        if action == "flip" and lines[index]:
            pos = draw(st.integers(0, len(lines[index]) - 1))
            byte = draw(st.integers(0, 255))
            line = bytearray(lines[index])
            line[pos] = byte
            lines[index] = bytes(line)
        elif action == "cut":
            lines[index] = lines[index][: draw(st.integers(0, len(lines[index])))]
        elif action == "insert":
            lines.insert(index, draw(hostile_lines).encode("utf-8", "surrogatepass"))
        else:
            lines.insert(index, draw(st.binary(max_size=40)))
    return b"\n".join(lines)


@fuzz
@given(data=damaged())
def test_a_damaged_trace_is_read_or_refused_typed(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        path.write_bytes(data)
        with contextlib.suppress(ConfigurationError):
            read_jsonl(path)
        assert follow(path, Console(file=io.StringIO()), polls=1) == 0


@fuzz
@given(data=damaged())
def test_llmgine_trace_exits_0_or_2(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        path.write_bytes(data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stdout", io.StringIO())
            patch.setattr("sys.stderr", io.StringIO())
            assert main(["trace", str(path)]) in (0, 2)
