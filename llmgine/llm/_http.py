"""The shared body of every HTTP provider: send, retry, time out, stream, trace.

A vendor subclass supplies a :class:`~llmgine.llm.Codec`, its URL and its
headers; :class:`HTTPProvider` does the rest with httpx on trio.
"""

from __future__ import annotations

import codecs
import functools
import inspect
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from typing import cast

import attrs
import httpx
import trio

from .. import _json
from .._exceptions import (
    AuthenticationError,
    ConfigurationError,
    JSONNestingError,
    MalformedResponseError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from .._secrets import is_secret_header, register_secret, register_secret_headers
from ..tracing import TraceContext, current_trace, trace_headers
from ._base import Codec, StreamDecoder
from ._body import dumps
from ._errors import error_from_response, error_from_transport, scrub_error
from ._outgoing import RequestTemplate
from ._retry import RetryPolicy
from ._sse import SSEDecoder
from ._stream import StreamAccumulator, StreamEvent
from ._trace import StreamSpan, llm_span, record_response
from ._types import LLMRequest, LLMResponse, Usage

__all__ = ["DEFAULT_TIMEOUT", "HTTPProvider", "resolve_key"]

DEFAULT_TIMEOUT = 600.0
"""Seconds one attempt may take (and a stream may stay silent) by default."""

#: Parsed request URLs a provider keeps (Gemini's name the model: a few).
_MAX_URLS = 64


def _partial_usage(decoder: StreamDecoder | None) -> Usage | None:
    """What a stream reported of its usage before it failed, if its decoder says."""
    usage = getattr(decoder, "usage", None)
    return usage if isinstance(usage, Usage) else None


def resolve_key(api_key: str | None, env: tuple[str, ...], provider: str) -> str:
    """``api_key``, else the first environment variable of ``env`` that is set.

    Raises :class:`AuthenticationError` naming the variables when none is set.
    """
    if api_key:
        register_secret(api_key)
        return api_key
    for var in env:
        value = os.environ.get(var)
        if value:
            register_secret(value)
            return value
    names = " or ".join(env)
    raise AuthenticationError(
        f"no API key: pass api_key= or set {names}", provider=provider
    )


class HTTPProvider:
    """A provider speaking JSON over HTTP: the base of the vendor providers.

    ``client`` is an :class:`httpx.AsyncClient` to use instead of one of its
    own; the provider closes only a client it made. ``timeout`` bounds each
    attempt (and each silence within a stream), in seconds; ``retry`` says
    which failures are tried again and how long to wait.

    The key and the values of secret headers (``Authorization``,
    ``x-api-key``, ``x-goog-api-key`` and any named in ``secret_headers``) are
    registered with :func:`llmgine._secrets.register_secret`, so they are
    replaced by ``[REDACTED]`` in every error, trace record and store, even
    when the vendor echoes them back.
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        codec: Codec,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        secret_headers: Iterable[str] = (),
    ) -> None:
        if isinstance(secret_headers, str) or not all(
            isinstance(h, str) for h in secret_headers
        ):
            raise ConfigurationError(
                "'secret_headers' must be a collection of header names"
                f" (got {secret_headers!r})"
            )
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or timeout <= 0
        ):
            raise ConfigurationError(
                f"'timeout' must be a positive number of seconds (got {timeout!r})"
            )
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError(
                f"'base_url' must be an http(s) URL (got {base_url!r})"
            )
        self._name = name
        self._base_url = base_url.rstrip("/")
        self._server_address: str = url.host
        self._server_port: int = url.port or (443 if url.scheme == "https" else 80)
        self._codec = codec
        self._client = client
        self._owns_client = client is None
        self._timeout = float(timeout)
        self._retry = retry if retry is not None else RetryPolicy()
        self._extra_headers = dict(headers or {})
        self._secret_headers = frozenset(h.lower() for h in secret_headers)
        register_secret_headers(self._secret_headers)
        # built once: the headers and timeout are the same for every attempt
        self._headers = self._request_headers()
        self._http_timeout = httpx.Timeout(self._timeout)
        self._template = RequestTemplate(self._headers, self._http_timeout.as_dict())
        self._urls: dict[str, httpx.URL] = {}
        decode: Callable[..., LLMResponse] = codec.decode_response
        if "checked" in inspect.signature(decode).parameters:
            # the body comes from _json.loads, which refused deep nesting already
            decode = functools.partial(decode, checked=True)
        self._decode = cast(Callable[[object], LLMResponse], decode)
        for header, value in self._headers.items():
            if is_secret_header(header):
                register_secret(value)

    @property
    def secret_headers(self) -> frozenset[str]:
        """The headers named secret for this provider (lower case), beyond the
        standard ones."""
        return self._secret_headers

    @property
    def name(self) -> str:
        """The ``gen_ai.provider.name`` this provider reports."""
        return self._name

    @property
    def server_address(self) -> str:
        """The host this provider talks to."""
        return self._server_address

    @property
    def server_port(self) -> int:
        """The port this provider talks to."""
        return self._server_port

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self._base_url

    @property
    def codec(self) -> Codec:
        """The wire codec this provider uses."""
        return self._codec

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, base_url={self._base_url!r})"

    # -- what a vendor subclass supplies ---------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        """The headers that carry the key (never logged, never in errors)."""
        return {}

    def _url(self, request: LLMRequest, *, stream: bool) -> str:
        raise NotImplementedError

    # -- the calls -------------------------------------------------------------

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` and return the reply.

        With ``request.stream`` set, the reply is streamed and accumulated
        (useful for long generations that would idle past proxies' timeouts).
        """
        if request.stream:
            accumulator = StreamAccumulator()
            async for event in self.stream(request):
                accumulator.add(event)
            return accumulator.response(provider=self._name)
        with llm_span(self, request) as span:
            body = self._encode(request)
            url = self._url(request, stream=False)
            trace = current_trace.get()  # the chat span's, when tracing is on
            try:
                try:  # the first attempt bare: the retry policy only after a failure
                    raw = await self._attempt(url, body, False, trace)
                except Exception as exc:
                    attempt = functools.partial(self._attempt, url, body, False, trace)
                    raw = await self._retry.resume(exc, attempt)
                try:
                    data = _json.loads(raw.content)
                except ValueError as exc:  # JSONNestingError, UnicodeError too
                    deep = isinstance(exc, JSONNestingError)
                    what = "nested too deep" if deep else "not JSON"
                    raise MalformedResponseError(
                        f"the response body is {what} ({type(exc).__name__})",
                        provider=self._name,
                    ) from exc
                response = self._decode(data)
            except ProviderError as exc:
                raise scrub_error(exc)  # noqa: B904 - re-raised as it came
            record_response(span, response)
            return response

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """Send ``request`` and yield the reply's events as they arrive.

        Only opening the stream is retried; once events flow, a failure is
        raised to the consumer. Use it as ``async for event in provider.stream(r)``.
        """
        if not request.stream:
            request = attrs.evolve(request, stream=True)
        span = StreamSpan(self, request)
        accumulator = StreamAccumulator()
        decoder: StreamDecoder | None = None
        error: BaseException | None = None
        try:
            body = self._encode(request)
            url = self._url(request, stream=True)
            raw = await self._retry.call(
                functools.partial(self._attempt, url, body, True, span.propagated)
            )
            try:
                decoder = self._codec.stream_decoder()
                sse = SSEDecoder()
                lines = _utf8_lines(raw)
                async with aclosing(lines):
                    while not decoder.done:
                        line = await self._next_line(lines)
                        event = sse.flush() if line is None else sse.decode(line)
                        for delta in decoder.feed(event) if event is not None else ():
                            accumulator.add(delta)
                            yield delta
                        if line is None:
                            break
                try:
                    final = decoder.finish()
                except ProviderUnavailable:
                    kind = raw.headers.get("content-type", "")
                    if kind.split(";")[0].strip().lower() == "text/event-stream":
                        raise
                    raise MalformedResponseError(
                        "the server did not stream events: it answered with"
                        f" content-type {kind!r}, not text/event-stream",
                        provider=self._name,
                    ) from None
                accumulator.add(final)
                yield final
            finally:
                with trio.CancelScope(shield=True):
                    await raw.aclose()
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = scrub_error(exc) if isinstance(exc, ProviderError) else exc
            raise
        finally:
            span.finish(
                accumulator.response(provider=self._name) if error is None else None,
                error,
                usage=_partial_usage(decoder),
            )

    async def aclose(self) -> None:
        """Close the HTTP client if this provider made it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- plumbing --------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._http_timeout)
        return self._client

    def _encode(self, request: LLMRequest) -> bytes:
        """The request body: the codec's ``encode_body`` if it has one, else its
        ``encode_request`` dumped."""
        encode_body = getattr(self._codec, "encode_body", None)
        if encode_body is not None:
            body: bytes = encode_body(request)
            return body
        return dumps(self._codec.encode_request(request)).encode()

    def _request_url(self, url: str) -> httpx.URL:
        """``url`` parsed, once per URL (parsing costs more than the rest of a
        request's building)."""
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if len(self._urls) < _MAX_URLS:
                self._urls[url] = parsed
        return parsed

    def _request_headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        headers.update(self._extra_headers)
        headers.update(self._auth_headers())
        return headers

    async def _attempt(
        self,
        url: str,
        body: bytes,
        stream: bool,
        trace: TraceContext | None = None,
    ) -> httpx.Response:
        """One try: the response, read unless streaming, or a typed error.

        With ``trace`` (the ``chat`` span's context, when tracing is on) the
        request carries W3C ``traceparent`` (and ``tracestate``) for it.
        """
        client = self._http()
        extra = None if trace is None else trace_headers(trace)
        outgoing = self._template.build(client, self._request_url(url), body, extra)
        response: httpx.Response | None = None
        try:
            with trio.move_on_after(self._timeout) as scope:
                response = await client.send(outgoing, stream=True)
                if not stream or not response.is_success:
                    await response.aread()
        except httpx.HTTPError as exc:
            await _close(response)
            raise error_from_transport(provider=self._name, error=exc) from exc
        except BaseException:
            await _close(response)
            raise
        if scope.cancelled_caught or response is None:
            await _close(response)
            raise ProviderTimeout(
                f"no answer within {self._timeout:g} s", provider=self._name
            )
        if not response.is_success:
            raise error_from_response(provider=self._name, response=response)
        return response

    async def _next_line(self, lines: AsyncGenerator[str, None]) -> str | None:
        """The stream's next line (None at its end); a long silence fails it."""
        with trio.move_on_after(self._timeout):
            try:
                return await lines.__anext__()
            except StopAsyncIteration:
                return None
            except httpx.HTTPError as exc:
                raise error_from_transport(provider=self._name, error=exc) from exc
        raise ProviderTimeout(
            f"the stream stayed silent for {self._timeout:g} s", provider=self._name
        )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


async def _utf8_lines(response: httpx.Response) -> AsyncGenerator[str, None]:
    """The lines of a server-sent event stream, decoded as UTF-8.

    The SSE standard says a stream is UTF-8 whatever its content type claims
    (a ``charset=utf-16`` header is wrong, not a reason to misread it), and
    that bytes which are not UTF-8 read as U+FFFD. Lines end at CRLF, LF or CR.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    async for chunk in response.aiter_bytes():
        text = pending + decoder.decode(chunk)
        # a CR at the end may be the first half of a CRLF: wait for more
        pieces = _LINE_BREAK.split(text[:-1] if text.endswith("\r") else text)
        pending = pieces.pop() + ("\r" if text.endswith("\r") else "")
        for line in pieces:
            yield line
    pending += decoder.decode(b"", final=True)
    pieces = _LINE_BREAK.split(pending)
    if pieces and pieces[-1] == "":
        pieces.pop()
    for line in pieces:
        yield line


async def _close(response: httpx.Response | None) -> None:
    if response is not None:
        with trio.CancelScope(shield=True):
            await response.aclose()
