"""Server-sent events, as the WHATWG HTML standard defines the stream format.

:class:`SSEDecoder` is a small state machine fed one line at a time (lines as
``httpx.Response.aiter_lines()`` yields them, without their line ending);
:func:`aiter_sse` runs it over an async iterator of lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import attrs

__all__ = ["SSEDecoder", "SSEEvent", "aiter_sse"]


@attrs.frozen(kw_only=True)
class SSEEvent:
    """One dispatched event: its type (``"message"`` unless named) and data."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turns lines into events: a blank line dispatches what came before it.

    Comments (lines starting with ``:``) and unknown fields are ignored; a
    block with no ``data`` field dispatches nothing, as the standard says.
    """

    __slots__ = ("_data", "_event", "_id", "_retry")

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def decode(self, line: str) -> SSEEvent | None:
        """Feed one line; return the event it completes, if any."""
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def flush(self) -> SSEEvent | None:
        """End of stream: dispatch an event left without its closing blank line.

        The standard drops such an event; servers that forget the last blank
        line are common enough that keeping it is the kinder choice.
        """
        return self._dispatch()

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            self._retry = None
            return None
        event = SSEEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
        )
        self._event = ""
        self._data = []
        self._retry = None
        return event


async def aiter_sse(lines: AsyncIterable[str]) -> AsyncIterator[SSEEvent]:
    """The events of a stream of lines."""
    decoder = SSEDecoder()
    async for line in lines:
        event = decoder.decode(line)
        if event is not None:
            yield event
    last = decoder.flush()
    if last is not None:
        yield last
