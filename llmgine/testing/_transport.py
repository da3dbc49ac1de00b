"""A chaos transport for httpx: rate limits, server errors, timeouts, broken bodies."""

from __future__ import annotations

import enum
import json
import random
from collections import Counter
from collections.abc import Callable, Coroutine

import attrs
import httpx
import trio

from .._exceptions import ConfigurationError
from ._checks import non_negative, probability
from ._schedule import FaultSchedule

__all__ = ["Chaos", "ChaosStatistics", "ChaosTransport"]

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)


class Chaos(enum.Enum):
    """What a :class:`ChaosTransport` did to one request."""

    RATE_LIMITED = "rate_limited"  # 429 with Retry-After
    SERVER_ERROR = "server_error"  # 500
    OVERLOADED = "overloaded"  # 529 (Anthropic's overload status)
    TIMEOUT = "timeout"  # httpx.ReadTimeout raised
    TRUNCATED = "truncated"  # the real response, body cut short
    MALFORMED_SSE = "malformed_sse"  # the real event stream, a corrupt event spliced in


# One body that OpenAI-, Anthropic- and Gemini-style error parsers all can read.
_ERRORS = {
    Chaos.RATE_LIMITED: (429, "rate_limit_error", "RESOURCE_EXHAUSTED", "Rate limited"),
    Chaos.SERVER_ERROR: (500, "api_error", "INTERNAL", "Internal server error"),
    Chaos.OVERLOADED: (529, "overloaded_error", "UNAVAILABLE", "Overloaded"),
}
_BROKEN_EVENT = b'data: {"malformed": tru\n\n'


def _inner(value: httpx.AsyncBaseTransport | Handler) -> httpx.AsyncBaseTransport:
    if isinstance(value, httpx.AsyncBaseTransport):
        return value
    if callable(value):
        return httpx.MockTransport(value)
    raise ConfigurationError(
        f"'inner' must be an httpx.AsyncBaseTransport or a handler (got {value!r})"
    )


@attrs.frozen(kw_only=True)
class ChaosStatistics:
    """How many requests a :class:`ChaosTransport` saw, passed and spoiled.

    ``requests`` also counts requests whose inner transport raised.
    """

    requests: int
    passed: int
    rate_limited: int
    server_errors: int
    overloaded: int
    timeouts: int
    truncated: int
    malformed_sse: int

    @property
    def injected(self) -> int:
        """Requests that got a fault of any kind."""
        return (
            self.rate_limited
            + self.server_errors
            + self.overloaded
            + self.timeouts
            + self.truncated
            + self.malformed_sse
        )


@attrs.define(kw_only=True, eq=False)
class ChaosTransport(httpx.AsyncBaseTransport):
    """An httpx transport that misbehaves like a real LLM API under load.

    ``inner`` answers the requests that get through: another transport or a
    handler (sync or async, as for ``httpx.MockTransport``). Each request
    draws once from a ``random.Random(seed)``: with probability
    ``rate_limited`` it gets a 429 with ``Retry-After`` (and
    ``retry-after-ms``), ``server_errors`` a 500, ``overloaded`` a 529,
    ``timeouts`` an ``httpx.ReadTimeout`` after ``timeout_after`` seconds;
    with ``truncated`` the real response comes back with its body cut short,
    and with ``malformed_sse`` an event-stream response gets a corrupt event
    spliced in (other responses pass untouched). Rates add up to at most 1 and
    scale with the ``schedule``'s intensity when there is one.
    """

    inner: httpx.AsyncBaseTransport = attrs.field(converter=_inner)
    rate_limited: float = attrs.field(default=0.0, validator=probability)
    server_errors: float = attrs.field(default=0.0, validator=probability)
    overloaded: float = attrs.field(default=0.0, validator=probability)
    timeouts: float = attrs.field(default=0.0, validator=probability)
    truncated: float = attrs.field(default=0.0, validator=probability)
    malformed_sse: float = attrs.field(default=0.0, validator=probability)
    retry_after: float = attrs.field(default=1.0, validator=non_negative)
    timeout_after: float = attrs.field(default=0.0, validator=non_negative)
    schedule: FaultSchedule | None = None
    seed: int | None = 0
    _random: random.Random = attrs.field(init=False)
    _counts: Counter[Chaos | None] = attrs.field(init=False, factory=Counter)
    _requests: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        total = sum(rate for _, rate in self._rates())
        if total > 1.0:
            raise ConfigurationError(
                f"the chaos rates must add up to at most 1 (got {total!r})"
            )
        self._random = random.Random(self.seed)

    def _rates(self) -> tuple[tuple[Chaos, float], ...]:
        return (
            (Chaos.RATE_LIMITED, self.rate_limited),
            (Chaos.SERVER_ERROR, self.server_errors),
            (Chaos.OVERLOADED, self.overloaded),
            (Chaos.TIMEOUT, self.timeouts),
            (Chaos.TRUNCATED, self.truncated),
            (Chaos.MALFORMED_SSE, self.malformed_sse),
        )

    def decide(self) -> Chaos | None:
        """Draw the fault for the next request (or None to pass it through)."""
        draw = self._random.random()
        scale = 1.0 if self.schedule is None else self.schedule.intensity()
        if scale <= 0.0:
            return None
        draw /= scale
        for chaos, rate in self._rates():
            if draw < rate:
                return chaos
            draw -= rate
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request: a fault, or the inner transport's response."""
        self._requests += 1
        chaos = self.decide()
        if chaos is not None and chaos in _ERRORS:
            self._counts[chaos] += 1
            return self._error(chaos, request)
        if chaos is Chaos.TIMEOUT:
            self._counts[chaos] += 1
            if self.timeout_after > 0:
                await trio.sleep(self.timeout_after)
            raise httpx.ReadTimeout(
                "read timed out (injected by ChaosTransport)", request=request
            )
        response = await self.inner.handle_async_request(request)
        if chaos is Chaos.TRUNCATED:
            self._counts[chaos] += 1
            body = await response.aread()
            return _rebuilt(
                response, request, body[: self._random.randrange(len(body) or 1)]
            )
        if chaos is Chaos.MALFORMED_SSE and _is_event_stream(response):
            self._counts[chaos] += 1
            events = (await response.aread()).split(b"\n\n")
            at = self._random.randrange(len(events))
            body = b"\n\n".join(events[:at]) + (b"\n\n" if at else b"")
            body += _BROKEN_EVENT + b"\n\n".join(events[at:])
            return _rebuilt(response, request, body)
        self._counts[None] += 1
        return response

    def _error(self, chaos: Chaos, request: httpx.Request) -> httpx.Response:
        status, kind, grpc_status, text = _ERRORS[chaos]
        headers = {"content-type": "application/json"}
        if chaos is Chaos.RATE_LIMITED:
            headers["retry-after"] = f"{self.retry_after:g}"
            headers["retry-after-ms"] = str(round(self.retry_after * 1000))
        error = {
            "code": status,
            "type": kind,
            "status": grpc_status,
            "message": f"{text} (injected by ChaosTransport)",
        }
        body = json.dumps({"type": "error", "error": error}).encode()
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()

    def statistics(self) -> ChaosStatistics:
        """A snapshot of what was passed and injected."""
        counts = self._counts
        return ChaosStatistics(
            requests=self._requests,
            passed=counts[None],
            rate_limited=counts[Chaos.RATE_LIMITED],
            server_errors=counts[Chaos.SERVER_ERROR],
            overloaded=counts[Chaos.OVERLOADED],
            timeouts=counts[Chaos.TIMEOUT],
            truncated=counts[Chaos.TRUNCATED],
            malformed_sse=counts[Chaos.MALFORMED_SSE],
        )


def _is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("text/event-stream")


def _rebuilt(
    response: httpx.Response, request: httpx.Request, body: bytes
) -> httpx.Response:
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-length", "content-encoding", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=request
    )
