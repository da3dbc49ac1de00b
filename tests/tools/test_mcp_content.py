"""What the model reads of an MCP tool's result: text as is, binary blocks summarised."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from llmgine.tools._mcp_content import content, summary


def test_text_blocks_are_joined_and_other_blocks_are_json() -> None:
    text = {"type": "text", "text": "hello"}
    assert content({"content": [text, {"type": "text", "text": "world"}]}) == (
        "hello\nworld"
    )
    embedded = {"type": "resource", "resource": {"uri": "file:///a", "text": "A"}}
    assert content({"content": [embedded]}) == "A"
    empty = {"type": "resource", "resource": {"uri": "file:///c"}}
    assert json.loads(content({"content": [empty]})) == empty
    link = {"type": "resource_link", "uri": "file:///b", "name": "b"}
    assert json.loads(content({"content": [link]})) == link
    structured = {"content": [], "structuredContent": {"result": 3}}
    assert json.loads(content(structured)) == {"result": 3}
    assert content({"content": [text], "structuredContent": {"x": 1}}) == "hello"
    assert content({}) == ""


def test_binary_blocks_are_summarised_never_sent_as_base64() -> None:
    png = base64.b64encode(b"\x89PNG" + bytes(200_000)).decode()
    image = {"type": "image", "data": png, "mimeType": "image/png"}
    assert content({"content": [image]}) == "[image image/png, 200004 bytes]"
    audio = {"type": "audio", "data": base64.b64encode(b"RIFF").decode()}
    assert content({"content": [audio]}) == "[audio, 4 bytes]"
    blob = {
        "type": "resource",
        "resource": {
            "uri": "file:///report.pdf",
            "mimeType": "application/pdf",
            "blob": base64.b64encode(b"%PDF-1.7").decode(),
        },
    }
    said = content({"content": [{"type": "text", "text": "here:"}, blob]})
    assert said == "here:\n[resource file:///report.pdf application/pdf, 8 bytes]"
    assert png[:100] not in content({"content": [image, blob]})
    # A block without data is still summarised, never an error.
    assert content({"content": [{"type": "image"}]}) == "[image, 0 bytes]"


@given(st.binary(max_size=300))
def test_the_size_is_that_of_the_decoded_bytes(data: bytes) -> None:
    encoded = base64.b64encode(data).decode()
    assert (
        summary("image", "image/png", encoded) == f"[image image/png, {len(data)} bytes]"
    )
