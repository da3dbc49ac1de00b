"""What llmgine's MCP client offers a server, against a real server that uses it:
roots, sampling (answered by an llmgine provider), elicitation (answered by a
callback), progress notifications, binary results, trace headers and OAuth.

The server is ``mcp_client_server.py`` beside this file: one process over stdio
serves most tests, one over streamable HTTP the header tests.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import trio

from llmgine import ConfigurationError
from llmgine.actors import open_actor_system
from llmgine.llm import (
    BlobPart,
    FinishReason,
    LLMResponse,
    Message,
    Role,
    ScriptedProvider,
    TextPart,
)
from llmgine.tools import (
    MCPElicitation,
    MCPElicitResult,
    MCPHttp,
    MCPProgress,
    MCPSampling,
    MCPStdio,
    ToolRegistry,
    connect_mcp,
    progress_listener,
    spawn_mcp_server,
)
from llmgine.tools._mcp_client import (
    ClientOptions,
    _with_defaults,
    sampling_request,
    sampling_result,
    session_callbacks,
)
from llmgine.tools._mcp_progress import progress_handler
from llmgine.tracing import RecordKind, TraceRecord, current_sink, traced

from .mcp_support import call, http_server

SERVER = Path(__file__).with_name("mcp_client_server.py")
STDIO = MCPStdio(command=sys.executable, args=[str(SERVER)])


class ListSink:
    """A minimal tracer: keeps every record."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.open_spans = 0

    def emit(self, record: TraceRecord) -> None:
        self.records.append(record)

    def start(self, system: object) -> None:
        pass

    async def run(self) -> None:
        await trio.sleep_forever()

    async def aclose(self) -> None:
        pass


@contextmanager
def bound_sink(sink: ListSink) -> Iterator[None]:
    token = current_sink.set(sink)  # type: ignore[arg-type]
    try:
        yield
    finally:
        current_sink.reset(token)


async def test_a_server_uses_roots_sampling_elicitation_and_progress() -> None:
    provider = ScriptedProvider(["A short summary."])
    answers: list[Any] = [
        MCPElicitResult(action="accept", content={"date": "2026-12-24"}),
        MCPElicitResult(action="decline"),
        RuntimeError("the user closed the dialog"),
        "not an answer",
    ]
    asked: list[MCPElicitation] = []

    async def elicit(request: MCPElicitation) -> MCPElicitResult:
        asked.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    progress: list[MCPProgress] = []
    sink = ListSink()
    async with (
        open_actor_system("app", tracer=sink) as system,
        connect_mcp(
            system,
            STDIO,
            name="helper",
            roots={"file:///work/project": "project", "file:///tmp": "scratch"},
            sampling=MCPSampling(provider=provider, model="small-model", max_tokens=20),
            elicitation=elicit,
            on_progress=progress.append,
        ) as server,
    ):
        registry = ToolRegistry(server.tools)

        # Roots: the list the user gave.
        result = await registry.execute(call("my_roots"))
        assert not result.is_error, result.content
        assert json.loads(result.content) == [
            {"uri": "file:///work/project", "name": "project"},
            {"uri": "file:///tmp", "name": "scratch"},
        ]

        # Sampling: the provider named answers, through an LLMRequest.
        result = await registry.execute(call("summarise", {"text": "a long story"}))
        assert not result.is_error, result.content
        assert json.loads(result.content) == {
            "role": "assistant",
            "content": {"type": "text", "text": "A short summary."},
            "model": "small-model",
            "stopReason": "endTurn",
        }
        (request,) = provider.requests
        assert request.model == "small-model"
        assert request.system == "Be brief."
        assert request.messages == (Message.user("Summarise: a long story"),)
        assert (request.temperature, request.stop) == (0.2, ("END",))
        assert request.max_tokens == 20  # the server asked for 50; capped

        # Elicitation: the callback answers; defaults fill what it left out.
        result = await registry.execute(call("book"))
        assert json.loads(result.content) == {
            "action": "accept",
            "data": {"date": "2026-12-24", "guests": 2},
        }
        assert asked[0].message == "Which date?"
        assert asked[0].mode == "form"
        assert asked[0].server == "/app/helper/connection"
        assert asked[0].schema is not None
        assert set(asked[0].schema["properties"]) == {"date", "guests"}
        result = await registry.execute(call("book"))
        assert json.loads(result.content) == {"action": "decline", "data": None}
        for _ in range(2):  # a callback that fails, or answers nonsense
            result = await registry.execute(call("book"))
            assert result.is_error

        # Progress: told to the callback and to the task's listener (how an
        # engine hears of it), and recorded under the call's span.
        heard: list[MCPProgress] = []
        token = progress_listener.set(heard.append)
        try:
            result = await registry.execute(call("countdown", {"n": 3}))
        finally:
            progress_listener.reset(token)
        assert result.content == "liftoff"
        assert heard == progress
        assert [(p.progress, p.total, p.message) for p in progress] == [
            (1, 3, "step 1"),
            (2, 3, "step 2"),
            (3, 3, "step 3"),
        ]
        assert {(p.server, p.tool) for p in progress} == {
            ("/app/helper/connection", "countdown")
        }

        # Binary results are summarised for the model.
        result = await registry.execute(call("picture"))
        assert result.content == (
            "[image image/png, 200004 bytes]\n"
            "[resource file:///data/report.bin application/octet-stream, 7 bytes]"
        )
        assert server.ref.statistics().restarts == 0
    (span,) = [r for r in sink.records if r.name == "execute_tool countdown"]
    marks = [r for r in sink.records if r.name == "mcp.progress"]
    assert [r.attributes["mcp.progress"] for r in marks] == [1, 2, 3]
    assert all(r.kind is RecordKind.CUSTOM for r in marks)
    assert {(r.trace_id, r.parent_id) for r in marks} == {(span.trace_id, span.span_id)}
    assert marks[0].attributes["mcp.progress.total"] == 3
    assert marks[0].attributes["mcp.progress.message"] == "step 1"
    assert marks[0].attributes["gen_ai.tool.name"] == "countdown"


async def test_a_server_without_capabilities_is_refused_what_it_asks() -> None:
    async with (
        open_actor_system("app") as system,
        connect_mcp(system, STDIO, name="helper", ping_interval=None) as server,
    ):
        registry = ToolRegistry(server.tools)
        for name in ("my_roots", "book"):
            assert (await registry.execute(call(name))).is_error
        result = await registry.execute(call("summarise", {"text": "x"}))
        assert result.is_error


async def test_sampling_converts_requests_and_responses() -> None:
    sampling = MCPSampling(provider=ScriptedProvider([]), model="m")
    params = {
        "messages": [
            {"role": "user", "content": {"type": "text", "text": "look"}},
            {
                "role": "user",
                "content": [
                    {"type": "image", "data": "iVBO", "mimeType": "image/png"},
                    {"type": "audio", "data": "UklG", "mimeType": "audio/wav"},
                ],
            },
            {"role": "assistant", "content": {"type": "resource_link", "uri": "x:y"}},
        ],
        "maxTokens": 100,
    }
    request = sampling_request(params, sampling)
    assert request.max_tokens == 100
    assert request.system is None
    assert request.messages[1] == Message(
        role=Role.USER,
        parts=[
            BlobPart(mime_type="image/png", data="iVBO"),
            BlobPart(mime_type="audio/wav", data="UklG"),
        ],
    )
    (part,) = request.messages[2].parts
    assert isinstance(part, TextPart)
    assert json.loads(part.text) == {"type": "resource_link", "uri": "x:y"}
    capped = MCPSampling(provider=ScriptedProvider([]), model="m", max_tokens=64)
    assert sampling_request({"messages": []}, capped).max_tokens == 64
    for reason, stop in [
        (FinishReason.LENGTH, "maxTokens"),
        (FinishReason.TOOL_CALL, "toolUse"),
        (FinishReason.CONTENT_FILTER, "contentFilter"),
    ]:
        reply = LLMResponse(
            message=Message.assistant("hi"), finish_reason=reason, model="big"
        )
        assert sampling_result(reply, "m")["stopReason"] == stop
        assert sampling_result(reply, "m")["model"] == "big"


async def test_a_failing_provider_answers_the_server_with_an_error() -> None:
    import mcp.types

    provider = ScriptedProvider([])  # exhausted at the first request
    options = ClientOptions(sampling=MCPSampling(provider=provider, model="m"))
    sample = session_callbacks(options, "/app/x")["sampling_callback"]
    params = mcp.types.CreateMessageRequestParams.model_validate(
        {"messages": [], "maxTokens": 5}
    )
    answer = await sample(None, params)
    assert isinstance(answer, mcp.types.ErrorData)
    assert answer.code == -32603
    assert "ScriptExhausted" in answer.message


async def test_url_elicitation_passes_the_url_and_no_content() -> None:
    import mcp.types

    seen: list[MCPElicitation] = []

    def answer(request: MCPElicitation) -> MCPElicitResult:  # a sync callback
        seen.append(request)
        return MCPElicitResult(action="accept", content={"ignored": True})

    elicit = session_callbacks(ClientOptions(elicitation=answer), "/app/x")[
        "elicitation_callback"
    ]
    params = mcp.types.ElicitRequestURLParams.model_validate(
        {
            "mode": "url",
            "message": "Sign in",
            "url": "https://example.com/login",
            "elicitationId": "e1",
        }
    )
    result = await elicit(None, params)
    assert result.action == "accept"
    assert result.content is None
    assert (seen[0].mode, seen[0].url) == ("url", "https://example.com/login")


def test_capability_options_are_checked() -> None:
    provider = ScriptedProvider([])
    with pytest.raises(ConfigurationError, match="'provider' must be an llmgine"):
        MCPSampling(provider="openai", model="m")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'model' must be a non-empty str"):
        MCPSampling(provider=provider, model=" ")
    with pytest.raises(ConfigurationError, match="'max_tokens' must be a positive"):
        MCPSampling(provider=provider, model="m", max_tokens=0)
    with pytest.raises(ConfigurationError, match="'action' must be one of"):
        MCPElicitResult(action="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'sampling' must be an MCPSampling"):
        ClientOptions(sampling=provider)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'elicitation' must be a callable"):
        ClientOptions(elicitation="yes")  # type: ignore[arg-type]


async def test_bad_options_fail_at_spawn() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(ConfigurationError, match="a root must be a file:// URI"):
            await spawn_mcp_server(system, STDIO, name="a", roots=["https://x"])
        with pytest.raises(ConfigurationError, match="'roots' must be a list"):
            await spawn_mcp_server(system, STDIO, name="b", roots="file:///x")
        with pytest.raises(ConfigurationError, match="'on_progress' must be a callable"):
            await spawn_mcp_server(system, STDIO, name="c", on_progress=1)  # type: ignore[arg-type]
        assert system.lookup("/app/a") is None


async def test_http_requests_carry_trace_headers_and_auth() -> None:
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import (
        OAuthClientInformationFull,
        OAuthClientMetadata,
        OAuthToken,
    )

    class Storage:
        """Tokens a previous OAuth flow stored."""

        async def get_tokens(self) -> OAuthToken | None:
            return OAuthToken(access_token="tok-0123456789abcdef", token_type="Bearer")

        async def set_tokens(self, tokens: OAuthToken) -> None:  # pragma: no cover
            pass

        async def get_client_info(self) -> OAuthClientInformationFull | None:
            return None

        async def set_client_info(
            self, info: OAuthClientInformationFull
        ) -> None:  # pragma: no cover
            pass

    sink = ListSink()
    async with (
        http_server(script=SERVER) as (url, _, _),
        open_actor_system("app", tracer=sink) as system,
    ):
        oauth = OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(redirect_uris=["http://localhost/cb"]),
            storage=Storage(),
        )
        transport = MCPHttp(url=url, headers={"X-Team": "search"}, auth=oauth)
        assert "tok-" not in repr(transport)
        async with connect_mcp(system, transport, name="remote") as server:
            registry = ToolRegistry(server.tools)
            result = await registry.execute(call("request_headers"))
            headers = json.loads(result.content)
            assert headers["authorization"] == "Bearer tok-0123456789abcdef"
            assert headers["x-team"] == "search"
            _, trace_id, _, _ = headers["traceparent"].split("-")
            (span,) = [
                r for r in sink.records if r.name == "execute_tool request_headers"
            ]
            assert trace_id == span.trace_id  # the call's trace, on the wire
    assert all("tok-0123456789abcdef" not in repr(r) for r in sink.records)


def test_auth_must_be_an_httpx_auth() -> None:
    with pytest.raises(ConfigurationError, match="'auth' must be an httpx Auth"):
        MCPHttp(url="http://127.0.0.1:1/mcp", auth="Bearer x")
    secret = MCPHttp(
        url="http://h/mcp", headers={"Authorization": "Bearer s3cr3t-t0ken-value"}
    )
    assert "s3cr3t" not in repr(secret)
    assert "Authorization" in repr(secret)


async def test_progress_goes_to_callbacks_and_traced_work_records_it() -> None:
    told: list[MCPProgress] = []

    async def later(progress: MCPProgress) -> None:
        told.append(progress)

    # No tracer, an async callback, no total or message.
    await progress_handler("/app/s", "t", later)(0.5, None, None)
    assert told == [MCPProgress(server="/app/s", tool="t", progress=0.5)]
    # A tracer, no callback: a record under the current span, without the
    # attributes the server did not send.
    sink = ListSink()
    with bound_sink(sink), traced(RecordKind.TOOL_CALL, "execute_tool t"):
        handler = progress_handler("/app/s", "t", None)
    await handler(1, None, None)
    # A listener alone: the task's, read when the call begins.
    heard: list[MCPProgress] = []
    token = progress_listener.set(heard.append)
    try:
        listened = progress_handler("/app/s", "t", None)
    finally:
        progress_listener.reset(token)
    await listened(2, 4, "half")
    assert heard == [
        MCPProgress(server="/app/s", tool="t", progress=2, total=4, message="half")
    ]
    span, mark = sink.records
    assert (mark.name, mark.parent_id) == ("mcp.progress", span.span_id)
    assert mark.attributes == {"gen_ai.tool.name": "t", "mcp.progress": 1}
    assert mark.duration is None
    assert mark.actor == "/app/s"


def test_defaults_fill_only_what_a_schema_defines() -> None:
    assert _with_defaults(None, {"a": 1}) == {"a": 1}
    schema = {"properties": {"a": {"default": 0}, "b": {"default": 2}, "c": {}}}
    assert _with_defaults(schema, {"a": 1}) == {"a": 1, "b": 2}
