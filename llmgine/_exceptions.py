"""Every error llmgine raises, under one root.

The tree::

    LLMgineError
    ├── ConfigurationError          bad arguments or settings (also a ValueError)
    ├── JSONNestingError            JSON nested deeper than llmgine reads (a ValueError)
    ├── MailboxFull                 a message was refused at the door
    ├── AskTimeout                  no reply in time (also a TimeoutError)
    ├── ActorStopped                tell/ask to an actor that has stopped
    ├── CircuitOpenError            the recipient's circuit breaker is open
    ├── SupervisionError            a failure escalated past a supervisor's intensity
    ├── HandlerError
    │   ├── DuplicateHandlerError   a second handler for one command type and session
    │   └── NoHandlerError          no handler registered for a command
    ├── ProviderError               an LLM provider call failed (carries provider,
    │   │                           status, request id; never the key)
    │   ├── RateLimitError          429 and vendor equivalents (retryable)
    │   │   └── QuotaExceededError  quota or spend limit exhausted (never retried)
    │   ├── AuthenticationError     401/403: key missing, wrong or not allowed
    │   ├── BadRequestError         400/404/422: the request itself is wrong
    │   │   └── ContextWindowError  the prompt does not fit the model's context
    │   ├── ContentFilterError      the provider refused on content grounds
    │   ├── ProviderUnavailable     5xx, overload (Anthropic 529), connection errors
    │   ├── ProviderTimeout         the request timed out
    │   └── MalformedResponseError  the provider answered something we cannot read
    ├── ToolError                   a tool could not be defined or called
    └── EngineError
        ├── MaxStepsExceeded        a turn needed more LLM calls than max_steps
        ├── OutputValidationError   the model's structured output did not validate
        └── UsageLimitExceeded      a turn went past its token budget

Errors say who is at fault: ``ConfigurationError`` and ``BadRequestError`` are the
caller's; ``ProviderUnavailable`` and ``MalformedResponseError`` are the world's.
"""

from __future__ import annotations

__all__ = [
    "ActorStopped",
    "AskTimeout",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextWindowError",
    "DuplicateHandlerError",
    "EngineError",
    "HandlerError",
    "JSONNestingError",
    "LLMgineError",
    "MailboxFull",
    "MalformedResponseError",
    "MaxStepsExceeded",
    "NoHandlerError",
    "OutputValidationError",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "QuotaExceededError",
    "RateLimitError",
    "SupervisionError",
    "ToolError",
    "UsageLimitExceeded",
]


class LLMgineError(Exception):
    """Root of every error llmgine raises."""


class ConfigurationError(LLMgineError, ValueError):
    """An argument or setting is invalid; the message says what was expected."""


class MailboxFull(LLMgineError):
    """The recipient's mailbox is full; the sender still holds the message."""


class AskTimeout(LLMgineError, TimeoutError):
    """An ``ask`` got no reply within its timeout."""


class ActorStopped(LLMgineError):
    """The actor has stopped; it accepts no more messages."""


class CircuitOpenError(LLMgineError):
    """The recipient's circuit breaker is open: failing fast."""


class SupervisionError(LLMgineError):
    """A supervisor gave up: its children failed past the restart intensity.

    ``__cause__`` is the failure that tipped it over.
    """


class HandlerError(LLMgineError):
    """A bus handler could not be registered or found."""


class DuplicateHandlerError(HandlerError):
    """A command type already has a handler in this session."""


class NoHandlerError(HandlerError):
    """No handler is registered for this command type."""


class ProviderError(LLMgineError):
    """An LLM provider call failed.

    ``provider`` names the backend, ``status`` is the HTTP status (if any),
    ``request_id`` the provider's request id (if any), ``retry_after`` the wait
    the provider asked for, in seconds. API keys never appear in the message.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        where = [p for p in (self.provider, self.status and f"HTTP {self.status}") if p]
        prefix = f"[{' '.join(str(w) for w in where)}] " if where else ""
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{prefix}{self.message}{suffix}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_provider_error, (type(self), self.message, self.__dict__))


def _rebuild_provider_error(
    cls: type[ProviderError], message: str, state: dict[str, object]
) -> ProviderError:
    err = cls(message)
    err.__dict__.update(state)
    return err


class RateLimitError(ProviderError):
    """The provider is rate limiting us (HTTP 429 or equivalent); retryable."""


class QuotaExceededError(RateLimitError):
    """A quota or spend limit is exhausted; retrying will not help."""


class AuthenticationError(ProviderError):
    """The API key is missing, wrong, or lacks permission."""


class BadRequestError(ProviderError):
    """The provider rejected the request as invalid."""


class ContextWindowError(BadRequestError):
    """The request does not fit the model's context window."""


class ContentFilterError(ProviderError):
    """The provider refused the request or reply on content grounds."""


class ProviderUnavailable(ProviderError):
    """The provider is down, overloaded or unreachable; retryable."""


class ProviderTimeout(ProviderError):
    """The request to the provider timed out."""


class MalformedResponseError(ProviderError):
    """The provider's answer could not be decoded."""


class ToolError(LLMgineError):
    """A tool could not be defined or called."""


class EngineError(LLMgineError):
    """An engine could not finish a turn."""


class MaxStepsExceeded(EngineError):
    """A turn needed more LLM calls than the engine's ``max_steps``."""


class OutputValidationError(EngineError):
    """The model's reply did not match the turn's ``output_type``, retries spent.

    ``problems`` lists what was wrong with the last reply (``"path: message"``).
    """

    def __init__(self, message: str, *, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class UsageLimitExceeded(EngineError):
    """A turn went past its usage limit."""


class JSONNestingError(LLMgineError, ValueError):
    """A JSON document nests arrays and objects deeper than llmgine reads.

    Raised before the document reaches Python's recursive decoder (see
    ``llmgine._json.MAX_DEPTH``); each seam turns it into its own typed
    answer (a ``MalformedResponseError`` from a provider, an error result
    from a tool, exit status 2 from ``llmgine trace``).
    """
