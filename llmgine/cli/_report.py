"""The demo's props and reports: the 429 storm, the tally, the tree and the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Collection, Mapping, Sequence

import attrs
import trio
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from .._exceptions import RateLimitError
from ..actors import (
    ActorSystem,
    DeadLetterReason,
    RecordKind,
    SupervisorRef,
    SystemStatistics,
    TraceRecord,
    traced,
)
from ..llm import LLMRequest, LLMResponse, Provider, StreamEvent
from ..observability import ConsoleHandler, TracerStatistics

__all__ = ["Storm", "Tally", "Timeline", "render_summary", "render_tree"]

#: The attributes the demo's console lines keep (``--verbose`` shows them all).
_BRIEF = frozenset(
    {
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.response.finish_reasons",
        "gen_ai.tool.call.id",
        "llmgine.breaker.from",
        "llmgine.breaker.to",
        "llmgine.engine.steps",
        "llmgine.dead_letter.reason",
        "llmgine.message.type",
    }
)


def _brief(record: TraceRecord) -> TraceRecord:
    return attrs.evolve(
        record, attributes={k: v for k, v in record.attributes.items() if k in _BRIEF}
    )


class Timeline:
    """The demo's trace lines, held until :meth:`emit` and then printed in the
    order things started.

    A span is recorded when it ends, after the spans inside it; sorted by start
    time, an ``engine.run`` comes before its LLM and tool calls. ``kinds``
    keeps only those record kinds; ``brief`` keeps only the key attributes. On
    a terminal a long line is cut at its width, except a failure's, which wraps
    so that its error is whole.
    """

    def __init__(
        self,
        console: Console,
        *,
        kinds: Collection[RecordKind] | None = None,
        brief: bool = False,
        capture_content: bool = False,
    ) -> None:
        self.console = console
        #: Prompts and replies on these lines (the tracer's content switch).
        self.capture_content = capture_content
        self.lines = ConsoleHandler(console, capture_content=capture_content)
        self.kinds = kinds
        self.brief = brief
        self.held: list[TraceRecord] = []

    def handle(self, records: Sequence[TraceRecord]) -> None:
        """Hold ``records`` until the next :meth:`emit`."""
        kinds = self.kinds
        self.held += [r for r in records if kinds is None or r.kind in kinds]

    def emit(self) -> None:
        """Print what is held, in order of start time."""
        held, self.held = sorted(self.held, key=lambda r: r.at), []
        console = self.console
        for record in held:
            line = self.lines.format(_brief(record) if self.brief else record)
            if not console.is_terminal:
                console.print(line, highlight=False, soft_wrap=True)
            elif record.error_type is None:
                console.print(line, highlight=False, no_wrap=True, overflow="ellipsis")
            else:
                console.print(line, highlight=False)

    def close(self) -> None:
        """Print what is still held."""
        self.emit()


class Storm:
    """A provider in front of another that answers the next few calls with 429s.

    :meth:`arm` queues rate limits; each call then fails (traced as a failed
    ``chat`` span, as a real 429 would be) until they are spent, and calls go
    through to ``inner`` again.
    """

    def __init__(self, inner: Provider, *, retry_after: float = 0.25) -> None:
        self.inner = inner
        self.retry_after = retry_after
        self.pending = 0

    @property
    def name(self) -> str:
        """The inner provider's name."""
        return self.inner.name

    def arm(self, count: int) -> None:
        """Answer the next ``count`` calls with rate limits."""
        self.pending = count

    async def _storm(self, request: LLMRequest) -> None:
        if self.pending <= 0:
            return
        self.pending -= 1
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self.name,
            "gen_ai.request.model": request.model,
        }
        with traced(RecordKind.LLM_CALL, f"chat {request.model}", attributes):
            await trio.sleep(0.002)  # the round trip a 429 still costs
            raise RateLimitError(
                "Too Many Requests (a 429 injected by the demo)",
                provider=self.name,
                status=429,
                retry_after=self.retry_after,
            )

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """A rate limit while the storm lasts, else the inner provider's reply."""
        await self._storm(request)
        return await self.inner.complete(request)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """As :meth:`complete`, streamed."""
        await self._storm(request)
        async for event in self.inner.stream(request):
            yield event

    async def aclose(self) -> None:
        """Close the inner provider."""
        await self.inner.aclose()


@attrs.define
class Tally:
    """A trace handler that counts what the demo did, and the figures it reports."""

    kinds: Counter[RecordKind] = attrs.field(factory=Counter)
    failed: Counter[RecordKind] = attrs.field(factory=Counter)
    breaker_trips: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    system: SystemStatistics | None = None
    dead_letters: Mapping[DeadLetterReason, int] = attrs.field(factory=dict)
    redelivered: int = 0
    tracer: TracerStatistics | None = None
    elapsed: float = 0.0

    def handle(self, records: Sequence[TraceRecord]) -> None:
        """Count a batch of records."""
        for record in records:
            self.kinds[record.kind] += 1
            if not record.ok:
                self.failed[record.kind] += 1
            attributes = record.attributes
            if record.kind is RecordKind.BREAKER and attributes.get(
                "llmgine.breaker.to"
            ) == ("open"):
                self.breaker_trips += 1
            elif record.kind is RecordKind.LLM_CALL:
                self.input_tokens += _int(attributes.get("gen_ai.usage.input_tokens"))
                self.output_tokens += _int(attributes.get("gen_ai.usage.output_tokens"))

    def close(self) -> None:
        """Nothing to release."""


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def render_tree(console: Console, system: ActorSystem, notes: Mapping[str, str]) -> None:
    """Print the supervision tree under the system's root, with a note per path."""

    def add(branch: Tree, ref: SupervisorRef) -> None:
        for path in ref.children():
            child = system.lookup(path)
            name = path.rsplit("/", 1)[-1]
            note = notes.get(path, "")
            label = f"[bold]{name}[/]  [dim]{note}[/]"
            if isinstance(child, SupervisorRef):
                add(branch.add(label, guide_style="dim"), child)
            else:
                branch.add(label)

    tree = Tree(f"[bold]{system.path}[/]  [dim]{notes.get(system.path, '')}[/]")
    add(tree, system.root.ref)
    console.print(tree)


def render_summary(console: Console, tally: Tally) -> None:
    """Print the demo's summary table."""
    table = Table(title="llmgine demo — summary", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("figure", justify="right")
    table.add_column("", style="dim")
    stats = tally.system
    if stats is not None:
        table.add_row("messages accepted", str(stats.accepted), "every tell and ask")
        table.add_row("messages processed", str(stats.processed), "")
        table.add_row("messages dead-lettered", str(stats.dead_lettered), "")
        table.add_row("messages still queued", str(stats.queued), "")
        lost_style = "green" if stats.lost == 0 else "bold red"
        table.add_row(
            "messages lost",
            f"[{lost_style}]{stats.lost}[/]",
            "accepted - processed - dead-lettered - queued",
        )
        table.add_row("actor restarts", str(stats.restarts), "by supervisors")
    table.add_row("breaker trips", str(tally.breaker_trips), "closed → open")
    for reason, count in sorted(tally.dead_letters.items(), key=lambda kv: kv[0].value):
        table.add_row(f"dead letters: {reason.value}", str(count), "")
    table.add_row("dead letters redelivered", str(tally.redelivered), "")
    llm, tools = RecordKind.LLM_CALL, RecordKind.TOOL_CALL
    table.add_row(
        "LLM calls", str(tally.kinds[llm]), f"{tally.failed[llm]} failed (429s)"
    )
    table.add_row("tool calls", str(tally.kinds[tools]), f"{tally.failed[tools]} failed")
    table.add_row(
        "tokens",
        str(tally.input_tokens + tally.output_tokens),
        f"in {tally.input_tokens}, out {tally.output_tokens}",
    )
    if tally.tracer is not None:
        table.add_row(
            "trace records",
            str(tally.tracer.received),
            f"{tally.tracer.dropped} dropped",
        )
    table.add_row("wall time", f"{tally.elapsed:.2f}s", "")
    console.print()
    console.print(table)
