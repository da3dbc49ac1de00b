"""llmgine as the client under test of the MCP conformance suite's client scenarios.

The suite (``@modelcontextprotocol/conformance``) starts a test server for a
scenario and runs ``python stress/mcp_conformance_client.py <server-url>`` with
the scenario's name in ``MCP_CONFORMANCE_SCENARIO`` (and, for some auth
scenarios, credentials as JSON in ``MCP_CONFORMANCE_CONTEXT``). Every scenario
goes through llmgine's own path: ``connect_mcp`` with an ``MCPHttp`` transport,
the server's tools in a ``ToolRegistry``, OAuth through the ``mcp`` SDK's
providers passed as ``MCPHttp(auth=...)``. ``stress/mcp_conformance.sh`` runs
the suite and prints the counts.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any
from urllib.parse import parse_qs, urlparse

import trio

from llmgine.actors import open_actor_system
from llmgine.llm import ToolCallPart
from llmgine.tools import (
    MCPElicitation,
    MCPElicitResult,
    MCPHttp,
    ToolRegistry,
    connect_mcp,
)

#: The tool each scenario calls after listing the tools, and its arguments.
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "tools_call": ("add_numbers", {"a": 5, "b": 3}),
    "sse-retry": ("test_reconnection", {}),
    "elicitation-sep1034-client-defaults": ("test_client_elicitation_defaults", {}),
}
REDIRECT = "http://localhost:3000/callback"


class Storage:
    """OAuth tokens and client registration, kept in memory for one run."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.client: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.client

    async def set_client_info(self, client_info: Any) -> None:
        self.client = client_info


class Browser:
    """Stands in for the user: follows the authorization URL, keeps the code."""

    def __init__(self) -> None:
        self.code: tuple[str, str | None] | None = None

    async def redirect(self, url: str) -> None:
        import httpx2

        async with httpx2.AsyncClient() as client:
            response = await client.get(url, follow_redirects=False)
        location = response.headers.get("location")
        if location is None:
            raise RuntimeError(
                f"the authorization server answered {response.status_code}, not a"
                " redirect"
            )
        query = parse_qs(urlparse(location).query)
        if "code" not in query:
            raise RuntimeError(f"no code in the redirect to {location}")
        self.code = (query["code"][0], (query.get("state") or [None])[0])

    async def callback(self) -> Any:
        assert self.code is not None, "the redirect was not followed"
        code, state = self.code
        try:  # mcp 2
            from mcp.shared.auth import AuthorizationCodeResult
        except ImportError:  # mcp 1: a (code, state) pair
            return code, state
        return AuthorizationCodeResult(code=code, state=state)


def _context() -> dict[str, Any]:
    text = os.environ.get("MCP_CONFORMANCE_CONTEXT")
    return json.loads(text) if text else {}


def oauth(url: str, scenario: str) -> Any:
    """The ``mcp`` SDK's OAuth provider for ``scenario``, as ``MCPHttp(auth=...)``."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata

    context = _context()
    storage = Storage()
    if scenario in ("auth/client-credentials-basic", "auth/client-credentials-jwt"):
        from mcp.client.auth.extensions import client_credentials as cc

        if scenario.endswith("basic"):
            return cc.ClientCredentialsOAuthProvider(
                server_url=url,
                storage=storage,
                client_id=context["client_id"],
                client_secret=context["client_secret"],
                token_endpoint_auth_method="client_secret_basic",
            )
        jwt = cc.SignedJWTParameters(
            issuer=context["client_id"],
            subject=context["client_id"],
            signing_algorithm=context.get("signing_algorithm", "ES256"),
            signing_key=context["private_key_pem"],
        )
        return cc.PrivateKeyJWTOAuthProvider(
            server_url=url,
            storage=storage,
            client_id=context["client_id"],
            assertion_provider=jwt.create_assertion_provider(),
        )
    if context.get("client_id"):  # a client registered beforehand
        secret = context.get("client_secret")
        storage.client = OAuthClientInformationFull(
            client_id=context["client_id"],
            client_secret=secret,
            redirect_uris=[REDIRECT],
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
        )
    browser = Browser()
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="llmgine-conformance",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
        client_metadata_url="https://conformance-test.local/client-metadata.json",
    )


def accept_defaults(request: MCPElicitation) -> MCPElicitResult:
    """Accept with nothing filled in: llmgine applies the schema's defaults."""
    return MCPElicitResult(action="accept", content={})


async def main(url: str, scenario: str) -> None:
    auth = oauth(url, scenario) if scenario.startswith("auth/") else None
    async with (
        open_actor_system("conformance") as system,
        connect_mcp(
            system,
            MCPHttp(url=url, auth=auth),
            name="server",
            elicitation=accept_defaults,
            timeout=20.0,
        ) as server,
    ):
        registry = ToolRegistry(server.tools)
        print("tools:", [spec.name for spec in registry.specs()])
        if scenario in CALLS:
            name, arguments = CALLS[scenario]
        elif scenario.startswith("auth/") and server.tools:
            name, arguments = server.tools[0].name, {}
        else:
            return
        result = await registry.execute(
            ToolCallPart(id="c1", name=name, arguments=arguments)
        )
        print(f"{name}: is_error={result.is_error} {result.content[:200]}")


if __name__ == "__main__":
    trio.run(main, sys.argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", ""))
