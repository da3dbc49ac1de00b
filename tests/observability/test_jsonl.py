"""JsonlHandler and read_jsonl: one JSON object per line, rotation, round trip."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import NamedTuple

import cattrs
import pytest
from cattrs.gen import make_dict_unstructure_fn, override

from llmgine._exceptions import ConfigurationError
from llmgine.observability import JsonlHandler, read_jsonl
from llmgine.observability._jsonl import (
    _iterencode,
    _json_safe_mapping,
    _make_iterencode,
    make_converter,
)
from llmgine.tracing import RecordKind, TraceRecord

from ._records import make_record


class Colour(enum.StrEnum):
    RED = "red"


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


class Point(NamedTuple):
    x: int
    y: int


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_json_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    record = make_record(
        RecordKind.LLM_CALL,
        "chat gpt-4o",
        parent_id="a" * 16,
        actor="/app/llm",
        attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3},
    )
    handler.handle([record, make_record(RecordKind.ACTOR_STARTED, "x", duration=None)])
    first, second = _lines(path)  # flushed per batch: readable before close
    assert first == {
        "kind": "llm.call",
        "name": "chat gpt-4o",
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "parent_id": "a" * 16,
        "at": record.at,
        "duration": record.duration,
        "actor": "/app/llm",
        "attributes": {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3},
    }
    # fields at their default (None, no attributes) are left out: jq reads null
    assert set(second) == {"kind", "name", "trace_id", "span_id", "at"}
    assert second["kind"] == "actor.started"
    handler.close()
    handler.close()  # closing twice is fine


def test_round_trip_through_read_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    records = [
        make_record(RecordKind.TOOL_CALL, "execute_tool add", attributes={"a": 1}),
        make_record(
            RecordKind.MESSAGE,
            "receive Boom",
            error="ValueError: boom ✗",
            error_type="ValueError",
            actor="/app/b",
        ),
        make_record(RecordKind.DEAD_LETTER, "Incr", duration=None),
    ]
    handler = JsonlHandler(path)
    handler.handle(records)
    handler.close()
    assert read_jsonl(path) == records
    assert path.read_text().isascii()  # non-ASCII is escaped


def test_attributes_become_json_safe(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    handler.handle(
        [
            make_record(
                attributes={
                    "tuple": ("stop", "length"),
                    "named": Point(1, 2),
                    "nested": {"inner": (1, 2), 3: Colour.RED},
                    "set": {"b", "a"},
                    "mixed_set": frozenset({1, "a"}),
                    "enum": Colour.RED,
                    "object": Opaque(),
                    "nan": float("nan"),
                    "big": 10**30,
                    "flag": True,
                    "ratio": 0.5,
                },
                at=float("inf"),
                duration=float("nan"),
            )
        ]
    )
    handler.close()
    (line,) = path.read_text().splitlines()
    data = json.loads(line)  # strict JSON: no NaN / Infinity tokens
    assert "NaN" not in line
    assert data["at"] == "inf"
    assert data["duration"] == "nan"
    attributes = data["attributes"]
    assert attributes["tuple"] == ["stop", "length"]
    assert attributes["named"] == [1, 2]
    assert attributes["nested"] == {"inner": [1, 2], "3": "red"}
    assert attributes["set"] == ["a", "b"]
    assert sorted(map(str, attributes["mixed_set"])) == ["1", "a"]
    assert attributes["enum"] == "red"
    assert attributes["object"] == "<opaque>"
    assert attributes["nan"] == "nan"
    assert attributes["big"] == 10**30
    assert (attributes["flag"], attributes["ratio"]) == (True, 0.5)


def _varied_records() -> list[TraceRecord]:
    return [
        make_record(),
        make_record(duration=None, attributes={"n": 1, "s": "x", "none": None}),
        make_record(
            RecordKind.MESSAGE,
            "receive Boom",
            parent_id="a" * 16,
            actor="/app/b",
            error="ValueError: boom ✗",
            error_type="ValueError",
            attributes={"nested": {1: (2.5, Colour.RED)}, "big": 10**30, "o": Opaque()},
        ),
        # empty strings are not defaults: they are written
        make_record(parent_id="", actor="", error="", error_type="", duration=0.0),
    ]


def test_the_hook_builds_what_cattrs_would() -> None:
    # the dict make_dict_unstructure_fn builds, key order included; a field
    # added to TraceRecord and missing from the hook fails here
    generated = make_dict_unstructure_fn(
        TraceRecord,
        cattrs.Converter(),
        _cattrs_omit_if_default=True,
        kind=override(unstruct_hook=lambda kind: kind.value),
        at=override(omit_if_default=False),
        attributes=override(unstruct_hook=_json_safe_mapping),
    )
    converter = make_converter()
    for record in _varied_records():
        data = converter.unstructure(record)
        assert list(data.items()) == list(generated(record).items())
        if record.attributes:
            assert data["attributes"] is not record.attributes  # a copy to change


def test_the_text_is_the_same_without_the_c_encoder() -> None:
    data = [make_converter().unstructure(r) for r in _varied_records()]
    expected = json.dumps(data, separators=(",", ":"), allow_nan=False)
    assert "".join(_iterencode(data, 0)) == expected
    assert "".join(_make_iterencode(None)(data, 0)) == expected


def test_records_that_look_like_a_line_break_get_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    records = [
        make_record(attributes={"calls": [{"kind": "a"}, {"kind": "b"}]}),
        make_record(attributes={"text": '},{"kind":"x"}\n'}),
        make_record(),
    ]
    handler = JsonlHandler(path)
    handler.handle(records)
    handler.close()
    assert len(path.read_text().splitlines()) == 3
    assert read_jsonl(path) == records


def test_one_non_finite_time_leaves_the_rest_of_the_batch_alone(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    handler.handle(
        [
            make_record(name="before"),
            make_record(name="odd", at=float("nan"), duration=float("-inf")),
            make_record(name="after"),
        ]
    )
    handler.handle([])  # nothing to write
    handler.close()
    lines = _lines(path)
    assert [line["name"] for line in lines] == ["before", "odd", "after"]
    assert (lines[1]["at"], lines[1]["duration"]) == ("nan", "-inf")
    assert lines[2]["at"] == 1_700_000_000.25


def test_a_batch_with_an_unwritable_record_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    unwritable = make_record(at=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not JSON serializable"):
        handler.handle([make_record(), unwritable])
    handler.close()
    assert path.read_text() == ""


def test_int_subclasses_are_plain_ints() -> None:
    class Level(enum.IntEnum):
        HIGH = 2

    data = make_converter().unstructure(make_record(attributes={"level": Level.HIGH}))
    assert data["attributes"] == {"level": 2}
    assert type(data["attributes"]["level"]) is int


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    handler.handle(
        [
            make_record(
                attributes={
                    "x-goog-api-key": "AIzaSomething",
                    "prompt": "sk-" + "a" * 30,
                },
                error="401 Authorization: Bearer abcdefghijkl",
            )
        ]
    )
    handler.close()
    text = path.read_text()
    assert "AIzaSomething" not in text
    assert "a" * 30 not in text
    assert "abcdefghijkl" not in text


def test_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    for name in ("first", "second"):
        handler = JsonlHandler(path)
        handler.handle([make_record(name=name)])
        handler.close()
    assert [r.name for r in read_jsonl(path)] == ["first", "second"]


def test_rotation_by_size_keeps_backups(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    size = len(_one_line(tmp_path))
    handler = JsonlHandler(path, max_bytes=3 * size, backups=2)
    names = [f"r{i:02d}" for i in range(14)]
    # one batch may cross several rotations
    handler.handle([make_record(name=n, span_id="f" * 16) for n in names[:8]])
    for name in names[8:]:
        handler.handle([make_record(name=name, span_id="f" * 16)])
    handler.close()
    current = [r.name for r in read_jsonl(path)]
    one = [r.name for r in read_jsonl(tmp_path / "trace.jsonl.1")]
    two = [r.name for r in read_jsonl(tmp_path / "trace.jsonl.2")]
    assert two + one + current == names[-(len(two) + len(one) + len(current)) :]
    assert len(current) <= 3
    assert (len(one), len(two)) == (3, 3)
    assert not (tmp_path / "trace.jsonl.3").exists()
    for file in (path, tmp_path / "trace.jsonl.1"):
        assert file.stat().st_size <= 3 * size


def _one_line(tmp_path: Path) -> str:
    probe = tmp_path / "probe.jsonl"
    handler = JsonlHandler(probe)
    handler.handle([make_record(name="r00", span_id="f" * 16)])
    handler.close()
    return probe.read_text()


def test_rotation_without_backups_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    size = len(_one_line(tmp_path))
    handler = JsonlHandler(path, max_bytes=2 * size, backups=0)
    for i in range(5):
        handler.handle([make_record(name=f"r{i:02d}", span_id="f" * 16)])
    handler.close()
    assert [r.name for r in read_jsonl(path)] == ["r04"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe.jsonl", "trace.jsonl"]


def test_a_record_larger_than_max_bytes_is_still_written(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path, max_bytes=10)
    handler.handle([make_record(name="big"), make_record(name="bigger")])
    handler.close()
    assert [r.name for r in read_jsonl(path)] == ["bigger"]
    assert [r.name for r in read_jsonl(tmp_path / "trace.jsonl.1")] == ["big"]


def test_a_closed_handler_refuses_batches(tmp_path: Path) -> None:
    handler = JsonlHandler(tmp_path / "t.jsonl")
    handler.close()
    with pytest.raises(ConfigurationError, match="closed"):
        handler.handle([make_record()])
    assert repr(handler) == f"JsonlHandler({str(tmp_path / 't.jsonl')!r})"


def test_read_jsonl_skips_a_line_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    handler.handle([make_record(name="whole")])
    handler.close()
    with path.open("a") as file:
        file.write('\n{"kind": "custom", "na')  # blank line, then a write cut short
    assert [r.name for r in read_jsonl(path)] == ["whole"]


@pytest.mark.parametrize(
    "bad",
    ["not json", '{"kind": "nope", "name": "x"}', '{"kind": "custom", "attributes": 3}'],
)
def test_read_jsonl_says_where_a_bad_line_is(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "trace.jsonl"
    good = json.dumps(make_converter().unstructure(make_record()))
    path.write_text(f"{good}\n{bad}\n{good}\n")
    with pytest.raises(
        ConfigurationError, match=r"trace\.jsonl:2: expected a trace record"
    ):
        read_jsonl(path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_bytes": 0}, "'max_bytes' must be a positive int or None"),
        ({"backups": -1}, "'backups' must be an int >= 0"),
    ],
)
def test_bad_settings(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        JsonlHandler(tmp_path / "t.jsonl", **kwargs)  # type: ignore[arg-type]


def test_a_point_event_at_a_non_finite_time_is_written(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    handler.handle(
        [
            make_record(name="before"),
            make_record(name="odd", at=float("nan"), duration=None),
        ]
    )
    handler.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["name"] for line in lines] == ["before", "odd"]
    assert lines[1]["at"] == "nan"
    assert "duration" not in lines[1]


def test_secrets_in_a_set_never_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    handler = JsonlHandler(path)
    handler.handle([make_record(attributes={"seen": {"sk-" + "a" * 40, "plain"}})])
    handler.close()
    text = path.read_text()
    assert "sk-" not in text
    assert json.loads(text)["attributes"]["seen"] == ["[REDACTED]", "plain"]
