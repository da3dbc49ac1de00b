"""Structured output: a turn's answer as a typed value, checked with cattrs.

An :class:`OutputSpec` describes what a turn must answer: the JSON Schema the
model is given (through ``LLMRequest.response_schema``, or as the parameters
of the :data:`FINAL_RESULT` tool where a provider has no native structured
output) and how a reply becomes the typed value. A schema that is not an
object (``int``, ``list[str]``...) is wrapped as ``{"result": ...}``: OpenAI
wants an object at the root, and a tool's arguments are one.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import (
    Any,
    NotRequired,
    Required,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

import attrs

from .. import _json
from .._exceptions import ConfigurationError, JSONNestingError, ToolError
from ..llm import ToolCallPart, ToolResultPart, ToolSpec
from ..tools._convert import make_converter, problems
from ..tools._docstring import parse_docstring
from ..tools._schema import JSONSchema, json_default, json_schema, object_schema

__all__ = ["FINAL_RESULT", "OutputSpec", "output_spec"]

#: The tool a model calls with its answer where the provider has no native
#: structured output.
FINAL_RESULT = "final_result"


def _required_keys(cls: Any, hints: Mapping[str, Any]) -> list[str]:
    # with postponed annotations __required_keys__ misses NotRequired: read the hints
    return [
        k
        for k, hint in hints.items()
        if get_origin(hint) is Required
        or (k in cls.__required_keys__ and get_origin(hint) is not NotRequired)
    ]


def _typeddict_hook(cls: Any) -> Any:
    """A strict structure hook for a ``TypedDict`` (every problem, with its key)."""
    hints = {k: _strip_required(h) for k, h in get_type_hints(cls).items()}
    required = _required_keys(cls, get_type_hints(cls, include_extras=True))

    def structure(value: object, _: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Problems([("", f"expected an object, got {type(value).__name__}")])
        found = [(f".{k}", "unexpected key") for k in value if k not in hints]
        found += [(f".{k}", "is required") for k in required if k not in value]
        out: dict[str, Any] = {}
        for key, hint in hints.items():
            if key in value:
                try:
                    out[key] = _converter.structure(value[key], hint)
                except _Problems as inner:
                    found += [(f".{key}{path}", text) for path, text in inner.found]
                except Exception as exc:
                    found += [(f".{key}{path}", text) for path, text in problems(exc)]
        if found:
            raise _Problems(found)
        return out

    return structure


class _Problems(Exception):
    """Problems found while structuring a TypedDict: ``(path, message)`` pairs."""

    def __init__(self, found: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in found))
        self.found = found


_converter = make_converter()
_converter.register_structure_hook_factory(is_typeddict, _typeddict_hook)


class Invalid(Exception):
    """A reply that does not match the output type; ``problems`` say why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@attrs.frozen(kw_only=True, eq=False)
class OutputSpec:
    """What a structured turn answers: ``type``, and the ``schema`` the model sees."""

    type: Any
    name: str
    schema: JSONSchema
    wrapped: bool

    def tool_spec(self) -> ToolSpec:
        """The final-result tool: its parameters are the output's schema."""
        return ToolSpec(
            name=FINAL_RESULT,
            description=(
                f"Give your final answer ({self.name}). Call this once, when you"
                " have the answer, with the answer as the arguments."
            ),
            parameters=self.schema,
        )

    def parse_text(self, text: str) -> Any:
        """The typed value a reply's text holds (JSON); raises :class:`Invalid`."""
        stripped = _unfence(text)
        if not stripped:
            raise Invalid(["the reply is empty: answer with JSON matching the schema"])
        try:
            data = _json.loads(stripped)
        except (ValueError, JSONNestingError) as exc:
            raise Invalid([f"the reply is not valid JSON ({exc})"]) from None
        return self.parse(data)

    def parse_call(self, call: ToolCallPart) -> Any:
        """The typed value a final-result call's arguments hold."""
        if isinstance(call.arguments, str):
            return self.parse_text(call.arguments)
        return self.parse(dict(call.arguments))

    def parse(self, data: object) -> Any:
        """The typed value of decoded JSON ``data``; raises :class:`Invalid`."""
        if self.wrapped:
            if not isinstance(data, dict) or set(data) != {"result"}:
                raise Invalid(['expected an object with one key, "result"'])
            data = data["result"]
        elif self.schema.get("type") == "object" and not isinstance(data, dict):
            raise Invalid([f"expected an object, got {type(data).__name__}"])
        try:
            return _converter.structure(data, self.type)
        except Exception as exc:
            pairs = exc.found if isinstance(exc, _Problems) else problems(exc)
            raise Invalid([f"{p.lstrip('.') or '$'}: {m}" for p, m in pairs]) from None

    def retry_prompt(self, error: Invalid) -> str:
        """What the model is told after a reply that does not validate."""
        return (
            f"Your reply did not match the required JSON schema: {error}. Reply"
            " again with only the corrected JSON value."
        )

    def rejected(self, call: ToolCallPart, error: Invalid) -> ToolResultPart:
        """The error result a final-result call that does not validate gets."""
        return ToolResultPart(
            call_id=call.id,
            name=call.name,
            is_error=True,
            content=(
                f"The final result did not validate: {error}. Call {FINAL_RESULT}"
                " again with corrected arguments."
            ),
        )


def accepted(call: ToolCallPart) -> ToolResultPart:
    """The result a final-result call that validated gets."""
    return ToolResultPart(
        call_id=call.id, name=call.name, content="Final result accepted."
    )


def skipped(call: ToolCallPart) -> ToolResultPart:
    """The result of a call made beside the final result: it was not run."""
    return ToolResultPart(
        call_id=call.id,
        name=call.name,
        is_error=True,
        content="Not run: the turn ended with the final result given beside it.",
    )


@functools.lru_cache(maxsize=256)
def _cached(tp: Any) -> OutputSpec:
    return _make(tp)


def output_spec(tp: Any) -> OutputSpec:
    """The :class:`OutputSpec` of ``tp`` (``ConfigurationError`` if unsupported)."""
    try:
        return _cached(tp)
    except TypeError:  # an unhashable hint (the schema code looks types up)
        raise ConfigurationError(f"'output_type' must be a type (got {tp!r})") from None


def _make(tp: Any) -> OutputSpec:
    if tp is None or tp is type(None):
        raise ConfigurationError("'output_type' must be a type (got None)")
    where = f"output_type {_name(tp)}"
    try:
        schema = _schema(tp, where)
    except ToolError as exc:
        raise ConfigurationError(str(exc)) from None
    wrapped = schema.get("type") != "object"
    if wrapped:
        schema = object_schema({"result": schema}, ["result"])
    return OutputSpec(type=tp, name=_name(tp), schema=schema, wrapped=wrapped)


def _name(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    if isinstance(name, str) and not get_args(tp):
        return name
    return repr(tp).replace("typing.", "")


def _schema(tp: Any, where: str) -> JSONSchema:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_schema(tp, where)
    if is_typeddict(tp):
        return _typeddict_schema(tp, where)
    return json_schema(tp, where=where)


def _hints(cls: type, where: str) -> dict[str, Any]:
    try:
        return get_type_hints(cls, include_extras=True)
    except Exception as exc:
        name = cls.__qualname__
        raise ToolError(f"{where}: cannot resolve the types of {name}: {exc}") from None


def _summary(cls: type) -> tuple[str, Mapping[str, str]]:
    doc = parse_docstring(cls.__doc__)
    summary = doc.summary
    if summary.startswith(f"{cls.__name__}("):  # the signature dataclass writes
        summary = ""
    return summary, doc.attributes


def _dataclass_schema(cls: type, where: str) -> JSONSchema:
    hints = _hints(cls, where)
    summary, notes = _summary(cls)
    properties: dict[str, JSONSchema] = {}
    required: list[str] = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        schema = _schema(hints[field.name], f"{where}, field {field.name}")
        if field.default is not dataclasses.MISSING:
            schema = json_default(schema, field.default)
        elif field.default_factory is dataclasses.MISSING:
            required.append(field.name)
        note = notes.get(field.name)
        properties[field.name] = {**schema, "description": note} if note else schema
    return object_schema(properties, required, description=summary)


def _typeddict_schema(cls: Any, where: str) -> JSONSchema:
    hints = _hints(cls, where)
    summary, notes = _summary(cls)
    properties: dict[str, JSONSchema] = {}
    for key, hint in hints.items():
        schema = _schema(_strip_required(hint), f"{where}, key {key}")
        note = notes.get(key)
        properties[key] = {**schema, "description": note} if note else schema
    required = _required_keys(cls, hints)
    return object_schema(properties, required, description=summary)


def _strip_required(hint: Any) -> Any:
    while get_origin(hint) in (Required, NotRequired):
        hint = get_args(hint)[0]
    return hint


def _unfence(text: str) -> str:
    """``text`` without a Markdown code fence around it (models add them)."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and len(stripped) > 6:
        body = stripped[3:-3]
        newline = body.find("\n")
        if newline >= 0 and not body[:newline].strip().startswith(("{", "[")):
            body = body[newline + 1 :]  # the language tag: ```json
        return body.strip()
    return stripped
