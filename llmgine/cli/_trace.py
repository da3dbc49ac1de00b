"""``llmgine trace FILE``: a JSONL trace as trees (trace → message → LLM call → tool).

Spans are written when their work ends, so a trace's root span is the last of
its records to arrive. ``--follow`` relies on that: it holds a trace's records
until its root comes, then prints the whole tree; runtime events outside any
trace are printed as they come.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from .. import _json
from .._exceptions import ConfigurationError
from ..actors import RecordKind, TraceRecord
from ..observability import read_jsonl
from ..observability._jsonl import make_converter
from ._common import CLIError

__all__ = ["follow", "label", "render", "run_trace", "trees"]

_STYLES = {
    RecordKind.MESSAGE: "blue",
    RecordKind.LLM_CALL: "bold magenta",
    RecordKind.TOOL_CALL: "cyan",
    RecordKind.ENGINE_RUN: "bold blue",
    RecordKind.BUS_COMMAND: "green",
    RecordKind.BUS_EVENT: "green",
    RecordKind.ACTOR_RESTARTED: "yellow",
    RecordKind.ACTOR_FAILED: "bold red",
    RecordKind.DEAD_LETTER: "yellow",
    RecordKind.BREAKER: "magenta",
}
_SHOWN = (
    ("gen_ai.provider.name", "provider"),
    ("gen_ai.response.model", "model"),
    ("gen_ai.usage.input_tokens", "in"),
    ("gen_ai.usage.output_tokens", "out"),
    ("gen_ai.response.finish_reasons", "finish"),
    ("llmgine.breaker.from", "from"),
    ("llmgine.breaker.to", "to"),
    ("llmgine.dead_letter.reason", "reason"),
    ("llmgine.message.type", "message"),
    ("error.type", "error.type"),
)


#: Trees deeper than this are drawn flat below it: a file may hold any chain.
MAX_DEPTH = 16


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"


def _clock(at: float) -> str:
    try:
        clock = time.strftime("%H:%M:%S", time.localtime(at))
    except (OverflowError, OSError, ValueError):  # a time no clock can show
        return "??:??:??.???"
    return clock + f".{int(at % 1 * 1000):03d}"


def _count(value: object) -> int:
    """A token count from a file: anything that is not a whole number counts 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return 0


def _value(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def label(record: TraceRecord) -> Text:
    """One record as a line: kind, name, actor, duration, error (red), key figures."""
    text = Text()
    failed = record.error_type is not None
    text.append(
        record.kind.value, style="bold red" if failed else _STYLES.get(record.kind, "")
    )
    text.append(f" {record.name}", style="bold" if record.duration is not None else "")
    if record.actor and record.actor != record.name:
        text.append(f"  {record.actor}", style="dim cyan")
    if record.duration is not None:
        text.append(f"  {_duration(record.duration)}", style="yellow")
    if failed:
        text.append(f"  ✗ {record.error or record.error_type}", style="bold red")
    details = [
        f"{short}={_value(record.attributes[key])}"
        for key, short in _SHOWN
        if record.attributes.get(key) is not None
    ]
    if details:
        text.append("  " + " ".join(details), style="dim")
    return text


def _at(record: TraceRecord) -> float:
    return record.at if record.at == record.at else 0.0  # NaN sorts first


def _add(
    tree: Tree, root: TraceRecord, children: dict[str, list[TraceRecord]]
) -> set[int]:
    """Add ``root`` and what hangs below it, without recursion; the ids added.

    Each record is drawn once however the file's ids loop; below
    :data:`MAX_DEPTH` levels, children are drawn beside their parent.
    """
    seen = {id(root)}
    stack = [(tree, root, 0)]
    while stack:
        parent, record, level = stack.pop()
        node = parent.add(label(record))
        branch = node if level < MAX_DEPTH else parent
        below = sorted(children.get(record.span_id, ()), key=_at, reverse=True)
        for child in below:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((branch, child, level + 1))
    return seen


def _tree_of(trace_id: str, records: Sequence[TraceRecord], note: str = "") -> Tree:
    spans = {r.span_id for r in records}
    children: dict[str, list[TraceRecord]] = defaultdict(list)
    roots = []
    for record in records:
        parent = record.parent_id
        if parent is not None and parent in spans and parent != record.span_id:
            children[parent].append(record)
        else:
            roots.append(record)
    roots.sort(key=_at)
    start = min(_at(r) for r in records)
    end = max(_at(r) + (r.duration or 0.0) for r in records)
    errors = sum(1 for r in records if not r.ok)
    head = Text()
    head.append(f"trace {trace_id[:8]}", style="bold")
    head.append(f"  {_clock(start)}  {_duration(end - start)}", style="dim")
    head.append(f"  {len(records)} records")
    if errors:
        head.append(f"  {errors} failed", style="bold red")
    if note:
        head.append(f"  ({note})", style="dim")
    tree = Tree(head, guide_style="dim")
    shown: set[int] = set()
    for root in roots:
        shown |= _add(tree, root, children)
    for record in sorted(records, key=_at):  # parents that loop: no root reaches them
        if id(record) not in shown:
            shown |= _add(tree, record, children)
    return tree


def _events_tree(events: Sequence[TraceRecord]) -> Tree:
    head = Text(f"runtime events  {_clock(events[0].at)}  {len(events)} records", "dim")
    tree = Tree(head, guide_style="dim")
    for record in events:
        tree.add(label(record))
    return tree


def trees(records: Iterable[TraceRecord]) -> list[Tree]:
    """The trees of ``records``, in time order.

    Each trace with a span is one tree; runtime events outside any trace
    (spawned, started, stopped...) that come one after another share a tree.
    """
    by_trace: dict[str, list[TraceRecord]] = defaultdict(list)
    for record in records:
        by_trace[record.trace_id].append(record)
    items: list[tuple[float, str, list[TraceRecord]]] = []
    for group in by_trace.values():
        lone_event = len(group) == 1 and group[0].duration is None
        kind = "event" if lone_event else "trace"
        items.append((min(r.at for r in group), kind, group))
    items.sort(key=lambda item: item[0])
    out: list[Tree] = []
    events: list[TraceRecord] = []
    for _, kind, group in items:
        if kind == "event":
            events.extend(group)
            continue
        if events:
            out.append(_events_tree(events))
            events = []
        out.append(_tree_of(group[0].trace_id, group))
    if events:
        out.append(_events_tree(events))
    return out


def _summary(records: Sequence[TraceRecord]) -> Text:
    llm = [r for r in records if r.kind is RecordKind.LLM_CALL]
    tokens_in = sum(_count(r.attributes.get("gen_ai.usage.input_tokens", 0)) for r in llm)
    tokens_out = sum(
        _count(r.attributes.get("gen_ai.usage.output_tokens", 0)) for r in llm
    )
    tools = sum(1 for r in records if r.kind is RecordKind.TOOL_CALL)
    errors = sum(1 for r in records if not r.ok)
    text = Text()
    text.append(f"{len(records)} records", style="bold")
    text.append(f", {len({r.trace_id for r in records})} traces")
    text.append(f", {len(llm)} LLM calls (tokens in={tokens_in} out={tokens_out})")
    text.append(f", {tools} tool calls, ")
    text.append(f"{errors} failed", style="bold red" if errors else "green")
    return text


def render(records: Sequence[TraceRecord], console: Console) -> None:
    """Print a summary line and the trees of ``records``."""
    console.print(_summary(records))
    for tree in trees(records):
        console.print(tree)


class _Tail:
    """Reads the records appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.rest = b""
        self.converter = make_converter()

    def read(self, console: Console) -> list[TraceRecord]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:  # not written yet: wait for it
            return []
        if size < self.offset:  # rotated or truncated: start again
            console.print(Text(f"{self.path} was truncated; reading it again", "dim"))
            self.offset, self.rest = 0, b""
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        self.offset += len(data)
        *lines, self.rest = (self.rest + data).split(b"\n")
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                raw = _json.loads(line)
                records.append(self.converter.structure(raw, TraceRecord))
            except Exception as exc:
                shown = line[:60].decode("utf-8", "replace")
                console.print(
                    Text(f"skipped a line that is not a record: {shown!r} ({exc})", "red")
                )
        return records


class _Live:
    """Prints each trace once its root span arrives."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.pending: dict[str, list[TraceRecord]] = defaultdict(list)
        self.done: set[str] = set()

    def add(self, record: TraceRecord) -> None:
        trace_id = record.trace_id
        if record.parent_id is None and record.duration is None:
            self.console.print(label(record))  # a runtime event outside any trace
        elif trace_id in self.done:
            self.console.print(
                Text(f"(late, trace {trace_id[:8]}) ", "dim") + label(record)
            )
        elif record.parent_id is None:
            group = self.pending.pop(trace_id, [])
            group.append(record)
            self.done.add(trace_id)
            self.console.print(_tree_of(trace_id, group))
        else:
            self.pending[trace_id].append(record)

    def finish(self) -> None:
        for trace_id, group in self.pending.items():
            self.console.print(_tree_of(trace_id, group, "incomplete"))
        self.pending.clear()


def follow(
    path: str | os.PathLike[str],
    console: Console,
    *,
    interval: float = 0.5,
    polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print the trace in ``path`` and what is appended to it, until interrupted.

    ``polls`` stops after that many reads (tests and scripts); traces still
    open at the end are printed as incomplete.
    """
    tail = _Tail(Path(path))
    live = _Live(console)
    if not tail.path.exists():
        console.print(Text(f"waiting for {tail.path} to appear…", "dim"))
    count = 0
    try:
        while polls is None or count < polls:
            for record in tail.read(console):
                live.add(record)
            count += 1
            if polls is None or count < polls:
                sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        live.finish()
    return 0


def run_trace(args: argparse.Namespace, console: Console) -> int:
    """``llmgine trace``: exit 2 when the file cannot be read as a trace."""
    path = Path(args.file)
    if args.interval <= 0:
        raise CLIError(
            f"--interval must be a positive number of seconds (got {args.interval})"
        )
    try:
        if args.follow:
            if path.exists() and not path.is_file():
                raise CLIError(f"cannot read {path}: not a file")
            return follow(path, console, interval=args.interval)
        records = read_jsonl(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CLIError(f"cannot read {path}: {reason}") from None
    except ConfigurationError as exc:
        raise CLIError(str(exc)) from None
    if not records:
        console.print(f"{path}: no trace records")
        return 0
    render(records, console)
    return 0
