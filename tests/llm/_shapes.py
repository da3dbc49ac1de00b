"""Small validators of what each vendor accepts, from their API references.

They check the rules requests are rejected for: field names and types,
role alternation, required fields, tool-call/result pairing.
"""

from __future__ import annotations

import json
from typing import Any


class ShapeError(AssertionError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise ShapeError(what)


def is_json_object_text(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


# -- OpenAI ----------------------------------------------------------------------

OPENAI_KEYS = {
    "model",
    "messages",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "seed",
    "max_completion_tokens",
    "max_tokens",
    "stop",
    "response_format",
    "stream",
    "stream_options",
}


def _openai_content(content: Any) -> None:
    if isinstance(content, str):
        return
    check(isinstance(content, list) and content, "user content: str or non-empty list")
    for part in content:
        kind = part["type"]
        check(kind in ("text", "image_url", "input_audio", "file"), f"content {kind}")
        check(set(part) == {"type", kind}, f"content part keys {set(part)}")


def validate_openai(body: dict[str, Any]) -> None:
    json.dumps(body)
    check(set(body) <= OPENAI_KEYS, f"unknown keys {set(body) - OPENAI_KEYS}")
    check(isinstance(body["model"], str), "model")
    pending: set[str] = set()
    for message in body["messages"]:
        role = message["role"]
        check(role in ("system", "user", "assistant", "tool"), f"role {role}")
        if role == "tool":
            check(
                set(message) == {"role", "tool_call_id", "content"}, "tool message keys"
            )
            check(message["tool_call_id"] in pending, "tool result without a call")
            pending.discard(message["tool_call_id"])
            continue
        check(not pending, "tool calls must be answered before the next message")
        if role == "assistant":
            calls = message.get("tool_calls", [])
            check(message["content"] is not None or calls, "empty assistant message")
            for call in calls:
                check(call["type"] == "function", "call type")
                check(isinstance(call["function"]["arguments"], str), "arguments string")
                check(isinstance(call["function"]["name"], str), "function name")
                pending.add(call["id"])
        else:
            _openai_content(message["content"])
    for tool in body.get("tools", []):
        check(tool["type"] == "function", "tool type")
        check(tool["function"]["parameters"]["type"] == "object", "parameters object")
    choice = body.get("tool_choice")
    check(
        choice is None
        or choice in ("auto", "none", "required")
        or choice["type"] == "function",
        "tool_choice",
    )
    if "stream_options" in body:
        check(body.get("stream") is True, "stream_options needs stream")


# -- Anthropic -------------------------------------------------------------------

ANTHROPIC_KEYS = {
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "stop_sequences",
    "output_config",
    "stream",
}
ANTHROPIC_BLOCKS = {"text", "image", "document", "tool_use", "tool_result", "thinking"}


def validate_anthropic(body: dict[str, Any]) -> None:
    json.dumps(body)
    check(set(body) <= ANTHROPIC_KEYS, f"unknown keys {set(body) - ANTHROPIC_KEYS}")
    check(isinstance(body["max_tokens"], int) and body["max_tokens"] >= 1, "max_tokens")
    check("system" not in body or isinstance(body["system"], str), "system")
    previous = None
    pending: set[str] = set()
    for message in body["messages"]:
        role = message["role"]
        check(role in ("user", "assistant"), f"role {role}")
        check(role != previous, "roles must alternate")
        previous = role
        blocks = message["content"]
        check(isinstance(blocks, list) and blocks, "content: non-empty list")
        seen_other = False
        for block in blocks:
            kind = block["type"]
            check(kind in ANTHROPIC_BLOCKS, f"block {kind}")
            if kind == "text":
                check(block["text"].strip() != "", "text blocks must not be blank")
            if kind == "tool_use":
                check(role == "assistant", "tool_use in an assistant turn")
                check(isinstance(block["input"], dict), "tool_use input object")
                pending.add(block["id"])
            if kind == "thinking":
                check(isinstance(block["signature"], str), "thinking needs its signature")
            if kind == "tool_result":
                check(role == "user", "tool_result in a user turn")
                check(not seen_other, "tool_result blocks come first")
                check(block["tool_use_id"] in pending, "tool_result without tool_use")
                check(isinstance(block["content"], str), "tool_result content")
            else:
                seen_other = True
    choice = body.get("tool_choice")
    check(
        choice is None or choice["type"] in ("auto", "any", "tool", "none"), "tool_choice"
    )
    for tool in body.get("tools", []):
        check(set(tool) == {"name", "description", "input_schema"}, "tool keys")


# -- Gemini ----------------------------------------------------------------------

GEMINI_KEYS = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}
GEMINI_DATA = {"text", "inlineData", "fileData", "functionCall", "functionResponse"}
GEMINI_GENERATION = {
    "temperature",
    "topP",
    "maxOutputTokens",
    "seed",
    "stopSequences",
    "responseMimeType",
    "responseJsonSchema",
}


def validate_gemini(body: dict[str, Any]) -> None:
    json.dumps(body)
    check(set(body) <= GEMINI_KEYS, f"unknown keys {set(body) - GEMINI_KEYS}")
    previous = None
    for content in body["contents"]:
        role = content["role"]
        check(role in ("user", "model"), f"role {role}")
        check(role != previous, "turns alternate after merging")
        previous = role
        check(isinstance(content["parts"], list) and content["parts"], "parts non-empty")
        for part in content["parts"]:
            data = set(part) & GEMINI_DATA
            check(len(data) == 1, f"one data field per part, got {set(part)}")
            check(set(part) - GEMINI_DATA <= {"thought", "thoughtSignature"}, "part keys")
            if "functionCall" in part:
                check(role == "model", "function calls come from the model")
                check(isinstance(part["functionCall"]["args"], dict), "args object")
            if "functionResponse" in part:
                response = part["functionResponse"]
                check(isinstance(response["name"], str) and response["name"], "name")
                check(isinstance(response["response"], dict), "response object")
    generation = body.get("generationConfig", {})
    check(set(generation) <= GEMINI_GENERATION, f"generationConfig {set(generation)}")
    if "toolConfig" in body:
        mode = body["toolConfig"]["functionCallingConfig"]["mode"]
        check(mode in ("AUTO", "ANY", "NONE"), "mode")
