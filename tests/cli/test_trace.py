"""``llmgine trace``: trees from a JSONL trace a real system wrote; errors; --follow."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import attrs
import pytest
import trio
import trio.lowlevel
from rich.console import Console

from llmgine._exceptions import ConfigurationError
from llmgine.actors import (
    Actor,
    Failure,
    RecordKind,
    TraceRecord,
    open_actor_system,
    traced,
)
from llmgine.cli._trace import follow, label, render, trees
from llmgine.llm import ToolCallPart
from llmgine.observability import JsonlHandler, Tracer, read_jsonl
from llmgine.tools import ToolRegistry, tool

from .conftest import Run


@attrs.frozen
class Ask:
    city: str


class Agent(Actor):
    """Calls a 'model' span and a tool, the way an engine would."""

    def __init__(self, registry: ToolRegistry) -> None:
        self.registry = registry

    async def receive(self, message: object) -> object:
        assert isinstance(message, Ask)
        attributes = {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 3}
        with traced(RecordKind.LLM_CALL, "chat tiny", attributes):
            await trio.lowlevel.checkpoint()
        call = ToolCallPart(id="c1", name="shout", arguments={"text": message.city})
        result = await self.registry.execute(call)
        if message.city == "nowhere":
            return Failure(LookupError("no such city"))
        return result.content


@tool
def shout(text: str) -> str:
    """Shout.

    Args:
        text: What to shout.
    """
    if text == "boom":
        raise ValueError("too loud")
    return text.upper()


async def _write_trace(path: Path) -> None:
    tracer = Tracer([JsonlHandler(path)])
    async with open_actor_system("app", tracer=tracer) as system:
        agent = await system.spawn(
            functools.partial(Agent, ToolRegistry([shout])), name="agent"
        )
        with traced(RecordKind.ENGINE_RUN, "invoke_agent test"):
            assert await agent.ask(Ask("paris")) == "PARIS"
        with traced(RecordKind.ENGINE_RUN, "invoke_agent test"):
            await agent.ask(Ask("boom"))
        with pytest.raises(LookupError), traced(RecordKind.ENGINE_RUN, "invoke_agent x"):
            await agent.ask(Ask("nowhere"))


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    path = tmp_path / "trace.jsonl"
    trio.run(_write_trace, path)
    return path


def test_trace_shows_trees_with_durations_and_errors(run: Run, trace_file: Path) -> None:
    outcome = run("trace", str(trace_file))
    assert outcome.code == 0
    out = outcome.out
    lines = out.splitlines()
    assert "3 LLM calls (tokens in=36 out=9)" in lines[0]
    assert "3 tool calls" in lines[0]
    assert "runtime events" in out
    assert "actor.spawned /app/agent" in out
    assert out.count("engine.run invoke_agent test") == 2
    # trace -> actor message -> LLM call / tool, indented in that order
    engine = next(i for i, x in enumerate(lines) if "engine.run invoke_agent test" in x)
    message = lines[engine + 1]
    assert "message receive Ask  /app/agent" in message
    assert "llm.call chat tiny" in lines[engine + 2]
    assert "in=12 out=3" in lines[engine + 2]
    assert "tool.call execute_tool shout" in lines[engine + 3]
    assert message.index("message") > lines[engine].index("engine.run")
    assert lines[engine + 2].index("llm.call") > message.index("message")
    assert "✗ ValueError: too loud" in out
    assert "error.type=ValueError" in out
    assert "µs" in out or "ms" in out


def test_errors_are_red(trace_file: Path) -> None:
    records = read_jsonl(trace_file)
    failed = next(r for r in records if r.kind is RecordKind.TOOL_CALL and not r.ok)
    text = label(failed)
    assert any("red" in str(span.style) for span in text.spans)
    console = Console(record=True, width=100, color_system="truecolor")
    render(records, console)
    assert "\x1b[1;31m" in console.export_text(styles=True)


def test_a_missing_file_exits_2(run: Run, tmp_path: Path) -> None:
    outcome = run("trace", str(tmp_path / "nope.jsonl"))
    assert outcome.code == 2
    assert outcome.err == (
        f"llmgine trace: error: cannot read {tmp_path / 'nope.jsonl'}:"
        " No such file or directory\n"
    )


def test_a_directory_exits_2(run: Run, tmp_path: Path) -> None:
    outcome = run("trace", str(tmp_path))
    assert outcome.code == 2
    assert "cannot read" in outcome.err


def test_a_binary_file_exits_2(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    outcome = run("trace", str(path))
    assert outcome.code == 2
    assert "not a text file" in outcome.err


def test_a_file_that_is_not_a_trace_exits_2(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text('{"hello": 1}\n{"hello": 2}\n')
    outcome = run("trace", str(path))
    assert outcome.code == 2
    assert "expected a trace record" in outcome.err


def test_an_empty_file_says_so(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text("")
    outcome = run("trace", str(path))
    assert outcome.code == 0
    assert "no trace records" in outcome.out


def test_a_bad_interval_is_a_usage_error(run: Run, trace_file: Path) -> None:
    outcome = run("trace", str(trace_file), "--follow", "--interval", "0")
    assert outcome.code == 2
    assert "--interval" in outcome.err


def test_follow_of_a_directory_exits_2(run: Run, tmp_path: Path) -> None:
    outcome = run("trace", str(tmp_path), "--follow")
    assert outcome.code == 2
    assert "not a file" in outcome.err


def test_follow_waits_for_the_file_to_appear(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgine.cli import _trace

    path = tmp_path / "later.jsonl"
    root = _record("invoke_agent later", "s1", None, kind="engine.run")
    sleeps = []

    def sleep(_: float) -> None:
        sleeps.append(1)
        if len(sleeps) == 2:  # the program starts writing its trace
            path.write_text(_line(root))

    monkeypatch.setattr(_trace, "follow", functools.partial(follow, polls=4, sleep=sleep))
    outcome = run("trace", str(path), "--follow")
    assert outcome.code == 0
    assert f"waiting for {path} to appear" in " ".join(outcome.out.split())
    assert "engine.run invoke_agent later" in outcome.out


def _line(record: TraceRecord) -> str:
    data = {
        "kind": record.kind.value,
        "name": record.name,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "parent_id": record.parent_id,
        "at": record.at,
        "duration": record.duration,
        "error": record.error,
        "error_type": record.error_type,
    }
    return json.dumps(data) + "\n"


def _record(name: str, span: str, parent: str | None, **fields: object) -> TraceRecord:
    values: dict[str, object] = {"duration": 0.001, "at": 1000.0}
    values.update(fields)
    return TraceRecord(
        kind=RecordKind(str(values.pop("kind", "message"))),
        name=name,
        trace_id=str(values.pop("trace", "t" * 32)),
        span_id=span,
        parent_id=parent,
        **values,  # type: ignore[arg-type]
    )


def test_follow_prints_each_trace_when_its_root_arrives(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    event = _record(
        "/app/a", "e1", None, kind="actor.started", duration=None, trace="e" * 32
    )
    child = _record("receive Ask", "s2", "s1")
    root = _record("invoke_agent live", "s1", None, kind="engine.run")
    late = _record("execute_tool late", "s3", "s1", kind="tool.call")
    orphan = _record("receive Lost", "o2", "o1", trace="o" * 32)
    path.write_text(_line(event) + _line(child)[:20])  # the child is half written
    writes = [
        _line(child)[20:] + "not json\n\n",
        _line(root),
        _line(late) + _line(orphan),
    ]
    console = Console(record=True, width=120)

    def sleep(_: float) -> None:
        with path.open("a") as file:
            file.write(writes.pop(0))

    assert follow(path, console, interval=0.01, polls=4, sleep=sleep) == 0
    text = console.export_text()
    assert text.index("actor.started /app/a") < text.index("skipped a line")
    assert text.index("skipped a line") < text.index("engine.run invoke_agent live")
    tree = text[text.index("trace tttttttt") :]
    assert tree.index("engine.run invoke_agent live") < tree.index("message receive Ask")
    assert "(late, trace tttttttt) tool.call execute_tool late" in text
    assert "trace oooooooo" in text
    assert "(incomplete)" in text


def test_follow_starts_over_when_the_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    first = _record("invoke_agent one", "a1", None, kind="engine.run", trace="1" * 32)
    second = _record("invoke_agent two", "b1", None, kind="engine.run", trace="2" * 32)
    path.write_text(_line(first) * 3)
    console = Console(record=True, width=120)

    def sleep(_: float) -> None:
        path.write_text(_line(second))

    follow(path, console, interval=0.01, polls=2, sleep=sleep)
    text = console.export_text()
    assert "was truncated" in text
    assert "invoke_agent two" in text


def test_follow_stops_on_ctrl_c(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    child = _record("receive Ask", "s2", "s1")
    path.write_text(_line(child))
    console = Console(record=True, width=120)

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    assert follow(path, console, interval=0.01, sleep=interrupt) == 0
    assert "(incomplete)" in console.export_text()


def test_follow_through_the_command(
    run: Run, trace_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgine.cli import _trace

    monkeypatch.setattr(
        _trace, "follow", functools.partial(follow, polls=1, sleep=lambda _: None)
    )
    outcome = run("trace", str(trace_file), "--follow")
    assert outcome.code == 0
    assert "engine.run invoke_agent test" in outcome.out


def test_lone_events_between_traces_are_grouped(trace_file: Path) -> None:
    records = read_jsonl(trace_file)
    shown = trees(records)
    heads = [str(tree.label) for tree in shown]
    assert heads[0].startswith("runtime events")
    assert any(head.startswith("trace ") for head in heads)
    assert heads[-1].startswith("runtime events")  # the stops at exit


def test_a_trace_with_several_roots_is_one_tree() -> None:
    roots = [
        _record("receive A", "a", "gone"),
        _record("receive B", "b", "gone", at=1001.0),
    ]
    (tree,) = trees(roots)
    assert len(tree.children) == 2


def _hostile_line(**fields: object) -> str:
    record: dict[str, object] = {
        "kind": "llm.call",
        "name": "chat m",
        "trace_id": "t1",
        "span_id": "s1",
        "at": 1_700_000_000.0,
        "duration": 0.5,
    }
    record.update(fields)
    return json.dumps(record)


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_records_whose_parents_loop_are_each_shown_once(run: Run, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        _hostile_line(span_id="self", parent_id="self", name="own parent"),
        _hostile_line(span_id="a", parent_id="b", name="loop a"),
        _hostile_line(span_id="b", parent_id="a", name="loop b"),
    )
    outcome = run("trace", str(path))
    assert outcome.code == 0
    for name in ("own parent", "loop a", "loop b"):
        assert outcome.out.count(name) == 1


def test_a_chain_a_thousand_deep_is_drawn_flat_below_the_limit(
    run: Run, tmp_path: Path
) -> None:
    lines = [
        _hostile_line(span_id=f"s{i}", parent_id=f"s{i - 1}" if i else None, name=f"n{i}")
        for i in range(1000)
    ]
    outcome = run("trace", str(_file(tmp_path, *lines)))
    assert outcome.code == 0
    assert "n999" in outcome.out


def test_odd_numbers_and_times_are_shown_not_fatal(run: Run, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        _hostile_line(span_id="x", attributes={"gen_ai.usage.input_tokens": "12abc"}),
        _hostile_line(
            span_id="y", at=1e300, attributes={"gen_ai.usage.output_tokens": True}
        ),
        '{"kind":"message","name":"m","trace_id":"t2","span_id":"z","at":NaN,'
        '"duration":Infinity}',
        _hostile_line(trace_id="t3", span_id="w", at=1e300),
    )
    outcome = run("trace", str(path))
    assert outcome.code == 0
    assert "(tokens in=0 out=0)" in outcome.out
    assert "message m  ?" in outcome.out  # a duration no clock can show
    assert "trace t3  ??:??:??.???" in outcome.out  # nor a time


def test_nesting_past_the_limit_exits_2(run: Run, tmp_path: Path) -> None:
    path = _file(tmp_path, "[" * 3000 + "]" * 3000, _hostile_line())
    outcome = run("trace", str(path))
    assert outcome.code == 2
    assert "nested 3000 levels deep" in outcome.err


def test_invalid_utf8_on_one_line_names_the_hostile_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_hostile_line().encode() + b"\n" + b'{"kind": "\xff"}\n')
    with pytest.raises(ConfigurationError, match=r"t\.jsonl:2: .*not UTF-8"):
        read_jsonl(path)
