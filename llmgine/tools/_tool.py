"""``@tool``: a function the model may call, with the JSON Schema it is described by."""

from __future__ import annotations

import functools
import inspect
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Generic, Optional, ParamSpec, TypeVar, overload

import attrs
import trio

from .. import _json
from .._exceptions import ConfigurationError, JSONNestingError, ToolError
from ..llm import ToolSpec
from ._convert import CONVERTER, describe_value, problems
from ._docstring import Docstring, parse_docstring
from ._schema import JSONSchema, json_default, json_schema, object_schema

__all__ = ["Tool", "ToolDefinitionWarning", "check_timeout", "tool"]

#: Types whose values the converter answers unchanged when they are of the
#: type exactly (a JSON string for a ``str``, say): no converter call.
_AS_IS = frozenset({str, int, float, bool})

P = ParamSpec("P")
R = TypeVar("R")

#: What OpenAI, Anthropic and Gemini all accept as a function name.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EMPTY = inspect.Parameter.empty


class ToolDefinitionWarning(UserWarning):
    """A tool works as defined, but the model is told less than it needs.

    Warned at decoration for a tool without a docstring (the model gets no
    description) and for an ``Args:`` entry that names no parameter (a typo,
    or a parameter since renamed). Turn it into an error in tests with
    ``filterwarnings = ["error::llmgine.tools.ToolDefinitionWarning"]``.
    """


@attrs.frozen
class _Param:
    name: str
    annotation: Any
    default: object
    positional_only: bool

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


class Tool(Generic[P, R]):
    """A function the model may call, described by :attr:`spec`.

    Calling the tool calls the function unchanged (a sync function stays sync,
    an async one returns its coroutine). :meth:`validate` and :meth:`invoke` run
    it the way a model asks for it: from JSON arguments, sync functions in a
    worker thread. Usually made with :func:`tool`.
    """

    # Copied from the function by functools.update_wrapper.
    __name__: str
    __wrapped__: Callable[P, R]

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        idempotent: bool = False,
        requires_approval: bool = False,
    ) -> None:
        check_timeout(timeout)
        if isinstance(function, Tool):  # re-wrapping a tool: start from its function
            function = function.function
        # First, so the wrapped function's __dict__ cannot shadow what we set below.
        functools.update_wrapper(self, function)
        target = _unwrap_partial(function)
        name = name if name is not None else getattr(target, "__name__", "")
        if not _NAME.fullmatch(name):
            raise ToolError(
                f"tool name must be 1-64 letters, digits, '_' or '-' (got {name!r}); "
                "pass name=..."
            )
        doc = parse_docstring(getattr(target, "__doc__", None))
        self._function = function
        self._name = name
        self._description = doc.summary if description is None else description
        self._timeout = None if timeout is None else float(timeout)
        self._idempotent = bool(idempotent)
        self._requires_approval = bool(requires_approval)
        self._params = _read_params(function, name)
        _check_docs(name, doc, self._params, described=description is not None)
        self._is_async = inspect.iscoroutinefunction(function) or (
            inspect.iscoroutinefunction(getattr(function, "__call__", None))  # noqa: B004
        )
        self._spec = ToolSpec(
            name=name,
            description=self._description,
            parameters=_parameters_schema(self._params, doc.args, name),
        )

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self._name!r}>"

    @property
    def name(self) -> str:
        """The name the model calls the tool by."""
        return self._name

    @property
    def description(self) -> str:
        """What the model is told the tool does."""
        return self._description

    @property
    def timeout(self) -> float | None:
        """Seconds a call may take before it is cancelled.

        ``None`` defers to the registry's default; ``math.inf`` means no limit.
        """
        return self._timeout

    @property
    def idempotent(self) -> bool:
        """True when running a call twice does no more than running it once.

        A durable chat engine resuming a turn runs a call that started but
        left no result again only for such a tool; for any other it tells the
        model the outcome is unknown.
        """
        return self._idempotent

    @property
    def requires_approval(self) -> bool:
        """True when a chat engine must ask before running a call of this tool.

        The turn stops at such a call and answers it in
        ``ChatResult.pending_approvals``; ``ApproveTools`` decides it.
        """
        return self._requires_approval

    @property
    def function(self) -> Callable[P, R]:
        """The decorated function."""
        return self._function

    @property
    def is_async(self) -> bool:
        """True for an async function (run in the caller's task, not a thread)."""
        return self._is_async

    @property
    def parameters(self) -> JSONSchema:
        """The JSON Schema of the arguments object."""
        return dict(self._spec.parameters)

    @property
    def spec(self) -> ToolSpec:
        """The tool as providers describe it to the model."""
        return self._spec

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        """The arguments the model sent, checked and structured to the hints.

        ``arguments`` is an object, or its JSON text (an empty string means no
        arguments). Raises :class:`~llmgine.ToolError` listing every problem:
        JSON that does not parse, a missing or unexpected argument, a value of
        the wrong type (with its path, e.g. ``point.x``), values nested deeper
        than ``llmgine._json.MAX_DEPTH``.
        """
        if isinstance(arguments, str):
            arguments = _parse_json(arguments, self._name)
        elif not isinstance(arguments, Mapping):
            raise _not_an_object(self._name, arguments)
        else:
            try:
                _json.check_depth(arguments)
            except JSONNestingError as exc:
                raise ToolError(f"arguments for tool {self._name!r}: {exc}") from None
        found = [f"unexpected argument {k!r}" for k in arguments if k not in self._params]
        values: dict[str, Any] = {}
        for param in self._params.values():
            if param.name not in arguments:
                if param.required:
                    found.append(f"missing required argument {param.name!r}")
                continue
            value = arguments[param.name]
            if type(value) is param.annotation and param.annotation in _AS_IS:
                values[param.name] = value  # what the converter would answer
                continue
            try:
                values[param.name] = CONVERTER.structure(value, param.annotation)
            except Exception as exc:
                found.extend(
                    f"{param.name}{path}: {text}" for path, text in problems(exc)
                )
        if found:
            raise ToolError(
                f"invalid arguments for tool {self._name!r}: {'; '.join(found)}"
            )
        return values

    async def invoke(self, values: Mapping[str, Any]) -> R | Any:
        """Call the function with values from :meth:`validate` and return its result.

        A sync function runs in a worker thread; if the caller is cancelled the
        thread is abandoned (Python cannot stop it) and the caller returns at
        once. The function's exceptions propagate unchanged.
        """
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._params.values():
            value = values.get(param.name, param.default)
            if param.positional_only:
                args.append(value)
            elif param.name in values:
                kwargs[param.name] = value
        if self._is_async:
            return await self._function(*args, **kwargs)  # type: ignore[misc]
        call = functools.partial(self._function, *args, **kwargs)
        return await trio.to_thread.run_sync(call, abandon_on_cancel=True)

    async def run(self, arguments: Mapping[str, Any] | str) -> R | Any:
        """:meth:`validate` the model's arguments, then :meth:`invoke` the tool."""
        return await self.invoke(self.validate(arguments))


@overload
def tool(
    function: Callable[P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    idempotent: bool = False,
    requires_approval: bool = False,
) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    idempotent: bool = False,
    requires_approval: bool = False,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    function: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    idempotent: bool = False,
    requires_approval: bool = False,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function a :class:`Tool`, as ``@tool`` or ``@tool(name=..., ...)``.

    The name defaults to the function's, the description to the first paragraph
    of its Google-style docstring, whose ``Args:`` section describes the
    parameters. ``timeout`` (seconds) overrides the registry's default.
    ``idempotent=True`` declares that running a call twice is harmless (see
    :attr:`Tool.idempotent`); ``requires_approval=True`` makes a chat engine
    ask before running a call (see :attr:`Tool.requires_approval`).
    Unsupported type hints raise :class:`~llmgine.ToolError` here, at decoration.
    """
    if function is not None:
        return Tool(
            function,
            name=name,
            description=description,
            timeout=timeout,
            idempotent=idempotent,
            requires_approval=requires_approval,
        )

    def decorate(function: Callable[P, R]) -> Tool[P, R]:
        return Tool(
            function,
            name=name,
            description=description,
            timeout=timeout,
            idempotent=idempotent,
            requires_approval=requires_approval,
        )

    return decorate


def check_timeout(timeout: object, what: str = "timeout") -> None:
    """Raise :class:`~llmgine.ConfigurationError` unless ``timeout`` is None or > 0."""
    if timeout is None:
        return
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not timeout > 0
    ):
        raise ConfigurationError(
            f"{what!r} must be a positive number of seconds or None (got {timeout!r})"
        )


def _check_docs(
    name: str, doc: Docstring, params: Mapping[str, _Param], *, described: bool
) -> None:
    """Warn about what the docstring fails to tell the model."""
    if not described and not doc.summary:
        _warn(
            f"tool {name!r} has no docstring, so the model is told nothing about"
            " what it does: write one (its first paragraph is the description)"
            " or pass description=..."
        )
    unknown = [arg for arg in doc.args if arg not in params]
    if unknown:
        names = ", ".join(repr(arg) for arg in unknown)
        known = ", ".join(repr(p) for p in params) or "none"
        _warn(
            f"the docstring of tool {name!r} describes {names} under Args:, which"
            f" names no parameter (the parameters: {known})"
        )


def _warn(message: str) -> None:
    """Warn at the caller's line: the first frame outside ``llmgine.tools``."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        __package__ or "llmgine.tools"
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, ToolDefinitionWarning, stacklevel=level)


def _unwrap_partial(function: object) -> object:
    while isinstance(function, functools.partial):
        function = function.func
    return function


def _parse_json(text: str, name: str) -> Mapping[str, Any]:
    if not text.strip():
        return {}
    try:
        parsed = _json.loads(text)
    except ValueError as exc:
        raise ToolError(
            f"arguments for tool {name!r} are not valid JSON: {exc}"
        ) from None
    if not isinstance(parsed, dict):
        raise _not_an_object(name, parsed)
    return parsed


def _not_an_object(name: str, value: object) -> ToolError:
    return ToolError(
        f"arguments for tool {name!r} must be a JSON object (got {describe_value(value)})"
    )


def _read_params(function: Callable[..., Any], name: str) -> dict[str, _Param]:
    try:
        signature = inspect.signature(function, eval_str=True)
    except Exception as exc:
        raise ToolError(f"cannot read the signature of tool {name!r}: {exc}") from exc
    params: dict[str, _Param] = {}
    for p in signature.parameters.values():
        where = f"parameter {p.name!r} of tool {name!r}"
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            stars = "*" if p.kind is p.VAR_POSITIONAL else "**"
            raise ToolError(
                f"{where}: {stars}{p.name} is not supported; "
                "the model passes named arguments only"
            )
        if p.name in ("self", "cls"):
            raise ToolError(
                f"{where}: a tool cannot take {p.name!r}; decorate the bound method "
                "instead, as tool(obj.method)"
            )
        if p.annotation is _EMPTY:
            raise ToolError(f"{where} has no type annotation")
        annotation = p.annotation
        if p.default is None and not _accepts_none(annotation):
            # ``x: int = None``: the function clearly takes None, so the model may too.
            annotation = Optional[annotation]  # noqa: UP045
        params[p.name] = _Param(
            p.name, annotation, p.default, p.kind is p.POSITIONAL_ONLY
        )
    return params


def _accepts_none(annotation: Any) -> bool:
    try:
        CONVERTER.structure(None, annotation)
    except Exception:
        return False
    return True


def _parameters_schema(
    params: Mapping[str, _Param], descriptions: Mapping[str, str], name: str
) -> JSONSchema:
    properties: dict[str, JSONSchema] = {}
    for param in params.values():
        schema = json_schema(
            param.annotation, where=f"parameter {param.name!r} of tool {name!r}"
        )
        if not param.required:
            schema = json_default(schema, param.default)
        text = descriptions.get(param.name)
        properties[param.name] = {**schema, "description": text} if text else schema
    required = [p.name for p in params.values() if p.required]
    return object_schema(properties, required)
