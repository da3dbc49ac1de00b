"""Console output: one compact, coloured line per record (rich).

A line reads, left to right: wall-clock time, the short trace id (records of
one trace share it), the kind, the name, the actor path, the duration,
the error in red, and a few key attributes::

    12:03:04.512 3f9a1c2e llm.call     chat gpt-4o  /app/llm  812.3ms  in=52 out=18
    12:03:04.513 3f9a1c2e dead_letter  Incr  /app/counter  reason=ACTOR_STOPPED
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from rich.console import Console
from rich.text import Text

from llmgine._exceptions import ConfigurationError
from llmgine.observability._content import CONTENT_ATTRIBUTES
from llmgine.observability._redact import redact_record
from llmgine.tracing import RecordKind, TraceRecord

__all__ = ["ConsoleHandler"]

_STYLES: Mapping[RecordKind, str] = {
    RecordKind.ACTOR_SPAWNED: "dim cyan",
    RecordKind.ACTOR_STARTED: "dim cyan",
    RecordKind.ACTOR_STOPPED: "dim cyan",
    RecordKind.ACTOR_RESTARTED: "yellow",
    RecordKind.ACTOR_FAILED: "bold red",
    RecordKind.DEAD_LETTER: "yellow",
    RecordKind.BREAKER: "magenta",
    RecordKind.MESSAGE: "blue",
    RecordKind.BUS_COMMAND: "green",
    RecordKind.BUS_EVENT: "dim green",
    RecordKind.LLM_CALL: "bold magenta",
    RecordKind.TOOL_CALL: "cyan",
    RecordKind.ENGINE_RUN: "bold blue",
    RecordKind.CUSTOM: "white",
}

# Attributes worth a glance, shown under a short label when present.
_SHORT: Mapping[str, str] = {
    "gen_ai.provider.name": "provider",
    "gen_ai.response.model": "model",
    "gen_ai.usage.input_tokens": "in",
    "gen_ai.usage.output_tokens": "out",
    "gen_ai.response.finish_reasons": "finish",
    "gen_ai.tool.call.id": "call",
    "gen_ai.system_instructions": "system",
    "gen_ai.input.messages": "input",
    "gen_ai.output.messages": "output",
}
# Content is there only when capture is on (the Tracer strips it otherwise).
_CONTENT_SHOWN = frozenset(
    {"gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"}
)
_CONTENT_LIMIT = 120
# Attributes never shown on a line: content is long; the rest is already
# in the name or the actor column.
_HIDDEN = frozenset(
    {
        "llmgine.actor.path",
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.tool.name",
        "gen_ai.agent.name",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
)
_KIND_WIDTH = max(len(kind.value) for kind in RecordKind)
_VALUE_LIMIT = 40


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"


def _short(value: object, limit: int = _VALUE_LIMIT) -> str:
    if isinstance(value, list | tuple):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConsoleHandler:
    """Print each record as one coloured line on a rich console.

    ``console`` defaults to a new ``Console(stderr=True)``, so traces stay out
    of the program's standard output. ``kinds`` keeps only the given record
    kinds; ``min_duration`` (seconds) hides spans faster than that (point
    events and failures are always shown). ``capture_content=True`` shows
    prompts and replies (the start of them) on LLM-call lines; off by default,
    as for every handler (see :class:`Tracer`).
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        kinds: Iterable[RecordKind | str] | None = None,
        min_duration: float = 0.0,
        capture_content: bool = False,
    ) -> None:
        self.console = console if console is not None else Console(stderr=True)
        #: Whether this handler asked for prompt and reply content.
        self.capture_content = bool(capture_content)
        try:
            self.kinds = (
                None if kinds is None else frozenset(RecordKind(k) for k in kinds)
            )
        except ValueError as exc:
            expected = ", ".join(k.value for k in RecordKind)
            raise ConfigurationError(
                f"'kinds' must name record kinds ({expected}): {exc}"
            ) from None
        if (
            not isinstance(min_duration, int | float)
            or isinstance(min_duration, bool)
            or min_duration < 0
        ):
            raise ConfigurationError(
                f"'min_duration' must be a number of seconds >= 0 (got {min_duration!r})"
            )
        self.min_duration = float(min_duration)

    def _shown(self, record: TraceRecord) -> bool:
        if self.kinds is not None and record.kind not in self.kinds:
            return False
        return (
            record.duration is None
            or record.error_type is not None
            or record.duration >= self.min_duration
        )

    def format(self, record: TraceRecord) -> Text:
        """The line for ``record`` (redacted), as rich text."""
        record = redact_record(record)
        style = _STYLES.get(record.kind, "white")
        clock = time.strftime("%H:%M:%S", time.localtime(record.at))
        millis = int((record.at % 1) * 1000)
        line = Text()
        line.append(f"{clock}.{millis:03d} ", style="dim")
        line.append(f"{record.trace_id[:8]} ", style="dim")
        line.append(f"{record.kind.value:<{_KIND_WIDTH}} ", style=style)
        line.append(record.name, style="bold" if record.duration is not None else "")
        if record.actor and record.actor != record.name:
            line.append(f"  {record.actor}", style="cyan")
        if record.duration is not None:
            line.append(f"  {_duration(record.duration)}", style="yellow")
        # before the details: a long line is cut at the right, not the error
        if record.error_type is not None:
            line.append(f"  ✗ {record.error or record.error_type}", style="bold red")
        details = []
        content = self.capture_content
        for key, value in record.attributes.items():
            if key in _HIDDEN or value is None:
                continue
            if not content and key in CONTENT_ATTRIBUTES:
                continue
            limit = _CONTENT_LIMIT if key in _CONTENT_SHOWN else _VALUE_LIMIT
            details.append(f"{_SHORT.get(key, key)}={_short(value, limit)}")
        if details:
            line.append("  " + " ".join(details), style="dim")
        return line

    def handle(self, records: Sequence[TraceRecord]) -> None:
        """Print the lines for ``records``.

        On a terminal a long line is cut at its width (with an ellipsis);
        written to a file or a pipe, lines are kept whole.
        """
        console = self.console
        cut = console.is_terminal
        for record in records:
            if not self._shown(record):
                continue
            line = self.format(record)
            if cut:
                console.print(line, highlight=False, no_wrap=True, overflow="ellipsis")
            else:
                console.print(line, highlight=False, soft_wrap=True)

    def close(self) -> None:
        """Nothing to release: the console belongs to the caller."""

    def __repr__(self) -> str:
        return f"ConsoleHandler({self.console!r})"
