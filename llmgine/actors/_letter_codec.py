"""Dead letters as data: the JSON form stores write, and how it is read back.

A stored message is a JSON document of one of four kinds:

- ``json``: a ``str``, ``int``, ``float``, ``bool`` or ``None``, as itself;
- ``attrs`` / ``dataclass``: an instance, by its class's module and qualified
  name and its fields (unstructured by :func:`make_converter`'s converter);
- ``repr``: anything else, by its class's name and its ``repr``.

An error is stored as its type name and message only. Every string is
scrubbed of secrets before it is written.

Reading never imports a module and never runs anything the file names: a
class is looked up in :data:`sys.modules` (modules this process has already
imported) with :func:`inspect.getattr_static`, and must be an attrs class or a
dataclass; otherwise the message comes back as :class:`StoredMessage`.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import json
import sys
from typing import Any

import attrs
import cattrs

from .._exceptions import LLMgineError
from .._secrets import REDACTED, generation, is_secret_header, scrub

__all__ = [
    "StoredError",
    "StoredMessage",
    "decode_error",
    "decode_message",
    "encode_error",
    "encode_message",
    "make_converter",
    "scrub_text",
]

_SCALARS = (str, int, float, bool, type(None))
_EXACT_SCALARS = frozenset(_SCALARS)  # subclasses (enums, ...) are not plain data


@attrs.frozen(kw_only=True)
class StoredMessage:
    """A stored message this process cannot (or may not) rebuild.

    ``type`` is the qualified name of the message's class (``module.QualName``);
    ``data`` its fields as JSON values (a dict) for an attrs class or a
    dataclass, or its ``repr`` text for anything else. A class comes back as
    itself only when its module is already imported; redelivery leaves a
    ``StoredMessage`` held, since its recipient expects the real thing.
    """

    type: str
    data: Any


class StoredError(LLMgineError):
    """An error read back from a dead-letter store: its type name and message.

    Stores keep errors as text, never as objects, so a letter loaded after a
    restart carries this placeholder: ``type`` is the original exception's
    qualified type name (``ValueError``, ``shop.OrderError``) and ``message``
    its (scrubbed) message. llmgine never raises it.
    """

    def __init__(self, type: str, message: str) -> None:
        super().__init__(type, message)
        self.type = type
        self.message = message

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


def make_converter() -> cattrs.Converter:
    """The private converter between messages and JSON-ready values."""
    converter = cattrs.Converter()
    for kind in (datetime.datetime, datetime.date, datetime.time):
        converter.register_unstructure_hook(kind, _isoformat)
        converter.register_structure_hook(kind, _from_isoformat)
    converter.register_unstructure_hook(bytes, _bytes_out)
    converter.register_structure_hook(bytes, _bytes_in)
    return converter


def _isoformat(value: datetime.date | datetime.time) -> str:
    return value.isoformat()


def _from_isoformat(value: Any, kind: type[Any]) -> Any:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string (got {type(value).__name__})")
    return kind.fromisoformat(value)


def _bytes_out(value: bytes) -> str:
    return value.hex()


def _bytes_in(value: Any, _: type[Any]) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected hex text (got {type(value).__name__})")
    return bytes.fromhex(value)


def _type_name(cls: type) -> str:
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    if not isinstance(module, str) or module == "builtins":
        return str(qualname)
    return f"{module}.{qualname}"


def _json_default(value: object) -> object:
    if isinstance(value, set | frozenset):
        return list(value)
    return _safe_repr(value)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {_type_name(type(value))}>"


def _dumps(doc: dict[str, Any]) -> str:
    """``doc`` as JSON, every string in it scrubbed of secrets."""
    return json.dumps(_clean(doc, 0), ensure_ascii=False, default=_json_default)


_clean_texts: set[str] = set()  # short texts known to hold no secret
_clean_generation = generation()


def scrub_text(text: str) -> str:
    """:func:`scrub`, remembering short clean texts (field names, type names).

    The secrets pattern costs ~0.2 us a character; a letter repeats the same
    names over and over. The memory is dropped whenever a secret is registered.
    """
    global _clean_generation
    if _clean_generation != generation():
        _clean_texts.clear()
        _clean_generation = generation()
    if text in _clean_texts:
        return text
    result = scrub(text)
    if result is text and len(text) <= 64:
        if len(_clean_texts) >= 4096:
            _clean_texts.clear()
        _clean_texts.add(text)
    return result


def _clean(value: Any, depth: int) -> Any:
    """``value`` (JSON-like) with secrets replaced (see :func:`scrub_value`)."""
    if isinstance(value, str):
        return scrub_text(value)
    if depth > 100:
        return REDACTED
    if isinstance(value, dict):
        return {
            scrub_text(k) if isinstance(k, str) else k: (
                REDACTED
                if isinstance(k, str) and is_secret_header(k)
                else _clean(v, depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    return value


def encode_message(converter: cattrs.Converter, message: object) -> str:
    """``message`` as scrubbed JSON text; never raises."""
    cls = type(message)
    doc: dict[str, Any]
    if cls in _EXACT_SCALARS:
        doc = {"kind": "json", "data": message}
    else:
        kind = (
            "attrs"
            if attrs.has(cls)
            else "dataclass"
            if dataclasses.is_dataclass(cls)
            else "repr"
        )
        doc = {
            "kind": kind,
            "module": getattr(cls, "__module__", ""),
            "qualname": getattr(cls, "__qualname__", ""),
        }
        if kind != "repr":
            try:
                doc["data"] = converter.unstructure(message)
                return _dumps(doc)
            except Exception:  # unstructurable, cyclic or too deep: keep its repr
                doc["kind"] = "repr"
        doc["data"] = _safe_repr(message)
    return _dumps(doc)  # only str and JSON scalars in it now


def encode_error(error: BaseException | None) -> str | None:
    """``error`` as scrubbed JSON text (type name and message); never raises."""
    if error is None:
        return None
    try:
        message = str(error)
    except Exception:
        message = _safe_repr(error)
    doc = {"type": _type_name(type(error)), "message": message}
    return _dumps(doc)


def decode_error(text: object) -> StoredError | None:
    """The placeholder for a stored error; ``TypeError``/``ValueError`` if unreadable."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError("a stored error must be JSON text")
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise TypeError("a stored error must be a JSON object")
    type_name, message = doc.get("type"), doc.get("message")
    if not isinstance(type_name, str) or not isinstance(message, str):
        raise TypeError("a stored error needs a type and a message")
    return StoredError(type_name, message)


def decode_message(converter: cattrs.Converter, text: object) -> object:
    """The message stored as ``text``: rebuilt, a scalar, or a :class:`StoredMessage`.

    Raises ``TypeError`` or ``ValueError`` when the text cannot be read at all.
    """
    if not isinstance(text, str):
        raise TypeError("a stored message must be JSON text")
    doc = json.loads(text)
    if not isinstance(doc, dict) or "data" not in doc:
        raise TypeError("a stored message must be a JSON object with data")
    kind, data = doc.get("kind"), doc["data"]
    if kind == "json":
        if not isinstance(data, _SCALARS):
            raise ValueError("a stored JSON message must be a scalar")
        return data
    module, qualname = doc.get("module"), doc.get("qualname")
    if kind not in ("attrs", "dataclass", "repr") or not (
        isinstance(module, str) and isinstance(qualname, str)
    ):
        raise ValueError(f"unknown stored message kind {kind!r}")
    type_name = f"{module}.{qualname}" if module != "builtins" else qualname
    cls = _imported_class(module, qualname) if kind != "repr" else None
    if cls is not None and (
        attrs.has(cls) if kind == "attrs" else dataclasses.is_dataclass(cls)
    ):
        try:
            return converter.structure(data, cls)
        except Exception:  # fields changed since it was stored: keep the data
            pass
    return StoredMessage(type=type_name, data=data)


def _imported_class(module: str, qualname: str) -> type | None:
    """The class ``module.qualname`` if its module is imported already, else None.

    Never imports and never calls anything: ``getattr_static`` skips module
    ``__getattr__`` hooks, properties and other descriptors.
    """
    value: object = sys.modules.get(module)
    if value is None:
        return None
    for part in qualname.split("."):
        try:
            value = inspect.getattr_static(value, part)
        except AttributeError:
            return None
    return value if isinstance(value, type) else None
