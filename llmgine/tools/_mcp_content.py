"""What the model reads of an MCP tool's result: text, and summaries of binary blocks.

Images, audio and embedded resources that carry a ``blob`` are base64 that
would cost the model many thousands of tokens and tell it little, so each is
summarised by its kind, mime type, size and URI, and never sent on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["content", "summary"]


def _size(data: object) -> int:
    """Bytes of the base64 ``data`` decodes to (without decoding it)."""
    if not isinstance(data, str):
        return 0
    text = data.strip()
    return max(len(text) * 3 // 4 - text[-2:].count("="), 0)


def summary(kind: str, mime_type: object, data: object, uri: object = None) -> str:
    """``[image image/png, 1024 bytes]``: one binary block as the model reads it."""
    described = [kind]
    if isinstance(uri, str) and uri:
        described.append(uri)
    if isinstance(mime_type, str) and mime_type:
        described.append(mime_type)
    return f"[{' '.join(described)}, {_size(data)} bytes]"


def _block(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "resource":
        resource = block.get("resource") or {}
        if "text" in resource:
            return str(resource["text"])
        if "blob" in resource:
            return summary(
                "resource",
                resource.get("mimeType"),
                resource["blob"],
                resource.get("uri"),
            )
    if kind in ("image", "audio"):
        return summary(str(kind), block.get("mimeType"), block.get("data"))
    return json.dumps(dict(block), ensure_ascii=False)


def content(result: Mapping[str, Any]) -> str:
    """A ``tools/call`` result's content as the text sent back to the model."""
    texts = [_block(b) for b in result.get("content") or () if isinstance(b, Mapping)]
    if not texts and result.get("structuredContent") is not None:
        return json.dumps(result["structuredContent"], ensure_ascii=False)
    return "\n".join(texts)
