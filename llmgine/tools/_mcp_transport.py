"""How llmgine reaches an MCP server: ``MCPStdio`` and ``MCPHttp``, and opening them.

Needs the optional extra ``mcp`` (``pip install 'llmgine[mcp]'``); ``mcp`` is
imported only when a transport is opened, so ``llmgine.tools`` imports without it.
Over streamable HTTP every request carries the W3C trace headers of the work
that sent it when tracing is on, and an ``auth`` (the ``mcp`` SDK's
``OAuthClientProvider``, say) signs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TextIO

import attrs

from .. import tracing
from .._exceptions import ConfigurationError
from .._secrets import is_secret_header, register_secret

__all__ = [
    "HttpErrors",
    "MCPHttp",
    "MCPStdio",
    "MCPTransport",
    "import_mcp",
    "open_transport",
]

_INSTALL = "MCP support needs the 'mcp' package: pip install 'llmgine[mcp]'"


def import_mcp() -> Any:
    """The ``mcp`` package, or a ``ConfigurationError`` saying how to install it."""
    try:
        import mcp
    except ImportError as exc:
        raise ConfigurationError(_INSTALL) from exc
    return mcp


def _text(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{attribute.name!r} must be a non-empty str (got {value!r})"
        )


def _url(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"'url' must be an http:// or https:// URL (got {value!r})"
        )


def _auth(_: object, attribute: attrs.Attribute[object], value: object) -> None:
    if value is not None and not hasattr(value, "async_auth_flow"):
        raise ConfigurationError(
            "'auth' must be an httpx Auth such as mcp.client.auth.OAuthClientProvider"
            f" (got {type(value).__name__})"
        )


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _headers(values: Mapping[str, str]) -> Mapping[str, str]:
    headers = dict(values)
    for name, value in headers.items():
        if is_secret_header(name):
            register_secret(value)  # never shown in an error or a trace
    return headers


def _header_names(headers: Mapping[str, str]) -> str:
    return repr(sorted(headers))  # the names only: values may be credentials


@attrs.frozen(kw_only=True)
class MCPStdio:
    """An MCP server started as a subprocess, speaking JSON-RPC over stdin/stdout.

    ``env`` is added to a minimal inherited environment (``PATH``, ``HOME``, ...);
    the server's stderr goes to ``errlog`` (default: ``sys.stderr``).
    """

    command: str = attrs.field(validator=_text)
    args: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    env: Mapping[str, str] | None = attrs.field(default=None, hash=False, repr=False)
    cwd: str | None = None
    errlog: TextIO | None = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class MCPHttp:
    """An MCP server reached over streamable HTTP at ``url``.

    ``headers`` go with every request (their values are kept out of reprs,
    errors and traces when the header is a secret one, like ``Authorization``).
    ``auth`` signs every request: an ``httpx`` ``Auth`` of the kind the ``mcp``
    SDK takes, typically ``mcp.client.auth.OAuthClientProvider`` for OAuth.
    """

    url: str = attrs.field(validator=_url)
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_headers, hash=False, repr=_header_names
    )
    auth: Any = attrs.field(default=None, validator=_auth, eq=False, repr=False)


MCPTransport = MCPStdio | MCPHttp


class HttpErrors:
    """What the HTTP layer said when a request failed, by JSON-RPC request id.

    The ``mcp`` client answers a request whose POST got an HTTP error with a
    bare ``Server returned an error response``; this keeps the status, the
    method and URL (and, for 401/403, what to do) to say instead.
    """

    __slots__ = ("_auth", "_said")

    #: Failed requests remembered at once; older ones are forgotten.
    LIMIT = 64

    def __init__(self, auth: object = None) -> None:
        self._auth = auth
        self._said: dict[str, str] = {}

    async def on_response(self, response: Any) -> None:
        """An httpx response hook: note an HTTP error against its request's id."""
        if response.status_code < 400:
            return
        request = response.request
        try:
            sent = json.loads(request.content)
        except (ValueError, RuntimeError):  # not JSON, or a streamed body
            return
        if not isinstance(sent, dict) or "id" not in sent:
            return
        said = (
            f"HTTP {response.status_code} {response.reason_phrase}"
            f" from {request.method} {request.url}"
        )
        if response.status_code in (401, 403):
            if self._auth is None:
                said += (
                    "; the server wants authorization: give MCPHttp an auth, such"
                    " as mcp.client.auth.OAuthClientProvider, or the headers it needs"
                )
            else:
                said += "; the server refused the credentials"
        if len(self._said) >= self.LIMIT:
            del self._said[next(iter(self._said))]
        self._said[str(sent["id"])] = said

    def explain(self, item: Any) -> Any:
        """``item`` from the read stream, its bare HTTP error message explained."""
        message = getattr(item, "message", None)
        message = getattr(message, "root", message)  # mcp 1 wraps it
        error = getattr(message, "error", None)
        if error is not None and error.message == _BARE:
            said = self._said.pop(str(getattr(message, "id", None)), None)
            if said is not None:
                error.message = f"{_BARE}: {said}"
        return item


#: What the mcp client says of a request whose POST got an HTTP error status.
_BARE = "Server returned an error response"


@asynccontextmanager
async def open_transport(
    transport: MCPTransport, errors: HttpErrors | None = None
) -> AsyncIterator[tuple[Any, Any]]:
    """The transport's (read, write) streams, for the mcp versions we support.

    Over HTTP, ``errors`` notes what the HTTP layer said of failed requests.
    """
    if isinstance(transport, MCPStdio):
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=transport.command,
            args=list(transport.args),
            env=None if transport.env is None else dict(transport.env),
            cwd=transport.cwd,
        )
        errlog = sys.stderr if transport.errlog is None else transport.errlog
        async with stdio_client(params, errlog=errlog) as streams:
            yield streams[0], streams[1]
    else:
        async with _open_http(transport, errors or HttpErrors()) as streams:
            yield streams


async def _trace_headers(request: Any) -> None:
    """An httpx request hook: the W3C trace headers of the work that sent it."""
    for name, value in tracing.trace_headers().items():
        request.headers[name] = value


@asynccontextmanager
async def _open_http(
    transport: MCPHttp, errors: HttpErrors
) -> AsyncIterator[tuple[Any, Any]]:
    from mcp.client import streamable_http

    headers = dict(transport.headers)
    current: Any = getattr(streamable_http, "streamable_http_client", None)
    if current is None:  # pragma: no cover - mcp 1 before streamable_http_client
        legacy: Any = getattr(streamable_http, "streamablehttp_client")  # noqa: B009
        async with legacy(transport.url, headers=headers, auth=transport.auth) as streams:
            yield streams[0], streams[1]
    else:  # headers, auth and hooks go on the HTTP client
        from mcp.shared._httpx_utils import create_mcp_http_client

        client = create_mcp_http_client(headers=headers, auth=transport.auth)
        # The transport sends each message in the context of the task that sent
        # it, so the hook sees that task's trace context.
        client.event_hooks = {
            "request": [_trace_headers],
            "response": [errors.on_response],
        }
        async with client, current(transport.url, http_client=client) as streams:
            yield streams[0], streams[1]
