"""llmgine: production LLM applications as supervised actors on trio.

Everything a program needs is importable from here; each layer is also a
package of its own (``llmgine.actors``, ``llmgine.observability``,
``llmgine.bus``, ``llmgine.llm``, ``llmgine.tools``, ``llmgine.engines``,
``llmgine.testing``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._exceptions import ActorStopped as ActorStopped
from ._exceptions import AskTimeout as AskTimeout
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import BadRequestError as BadRequestError
from ._exceptions import CircuitOpenError as CircuitOpenError
from ._exceptions import ConfigurationError as ConfigurationError
from ._exceptions import ContentFilterError as ContentFilterError
from ._exceptions import ContextWindowError as ContextWindowError
from ._exceptions import DuplicateHandlerError as DuplicateHandlerError
from ._exceptions import EngineError as EngineError
from ._exceptions import HandlerError as HandlerError
from ._exceptions import JSONNestingError as JSONNestingError
from ._exceptions import LLMgineError as LLMgineError
from ._exceptions import MailboxFull as MailboxFull
from ._exceptions import MalformedResponseError as MalformedResponseError
from ._exceptions import MaxStepsExceeded as MaxStepsExceeded
from ._exceptions import NoHandlerError as NoHandlerError
from ._exceptions import OutputValidationError as OutputValidationError
from ._exceptions import ProviderError as ProviderError
from ._exceptions import ProviderTimeout as ProviderTimeout
from ._exceptions import ProviderUnavailable as ProviderUnavailable
from ._exceptions import QuotaExceededError as QuotaExceededError
from ._exceptions import RateLimitError as RateLimitError
from ._exceptions import SupervisionError as SupervisionError
from ._exceptions import ToolError as ToolError
from ._exceptions import UsageLimitExceeded as UsageLimitExceeded
from ._open import open_actor_system as open_actor_system
from .actors import Actor as Actor
from .actors import ActorContext as ActorContext
from .actors import ActorRef as ActorRef
from .actors import ActorStatistics as ActorStatistics
from .actors import ActorSystem as ActorSystem
from .actors import Backoff as Backoff
from .actors import BreakerState as BreakerState
from .actors import CircuitBreaker as CircuitBreaker
from .actors import DeadLetter as DeadLetter
from .actors import DeadLetterReason as DeadLetterReason
from .actors import DeadLetters as DeadLetters
from .actors import Deferred as Deferred
from .actors import Failure as Failure
from .actors import Mailbox as Mailbox
from .actors import OneForAll as OneForAll
from .actors import OneForOne as OneForOne
from .actors import Overflow as Overflow
from .actors import Priority as Priority
from .actors import RecordKind as RecordKind
from .actors import Restart as Restart
from .actors import RestForOne as RestForOne
from .actors import SQLiteDeadLetterStore as SQLiteDeadLetterStore
from .actors import StoredMessage as StoredMessage
from .actors import SupervisorRef as SupervisorRef
from .actors import SystemStatistics as SystemStatistics
from .actors import TraceRecord as TraceRecord
from .actors import current_system as current_system
from .actors import traced as traced

if TYPE_CHECKING:
    from .bus import BusSession as BusSession
    from .bus import Command as Command
    from .bus import CommandResult as CommandResult
    from .bus import Event as Event
    from .bus import MessageBus as MessageBus
    from .bus import SessionEnded as SessionEnded
    from .bus import SessionStarted as SessionStarted
    from .engines import AbandonTurn as AbandonTurn
    from .engines import ApproveTools as ApproveTools
    from .engines import ChatEngine as ChatEngine
    from .engines import ChatResult as ChatResult
    from .engines import ClearConversation as ClearConversation
    from .engines import ContextWindow as ContextWindow
    from .engines import Conversation as Conversation
    from .engines import GetHistory as GetHistory
    from .engines import ResumeTurn as ResumeTurn
    from .engines import SQLiteConversationStore as SQLiteConversationStore
    from .engines import UsageLimits as UsageLimits
    from .engines import UserInput as UserInput
    from .engines import agent_tool as agent_tool
    from .engines import stream_turn as stream_turn
    from .llm import AnthropicProvider as AnthropicProvider
    from .llm import BlobPart as BlobPart
    from .llm import FallbackProvider as FallbackProvider
    from .llm import FinishReason as FinishReason
    from .llm import GeminiProvider as GeminiProvider
    from .llm import LLMRequest as LLMRequest
    from .llm import LLMResponse as LLMResponse
    from .llm import Message as Message
    from .llm import OpenAICompatibleProvider as OpenAICompatibleProvider
    from .llm import OpenAIProvider as OpenAIProvider
    from .llm import ProviderActor as ProviderActor
    from .llm import ProviderPart as ProviderPart
    from .llm import ReasoningPart as ReasoningPart
    from .llm import Role as Role
    from .llm import ScriptedProvider as ScriptedProvider
    from .llm import TextPart as TextPart
    from .llm import ToolCallPart as ToolCallPart
    from .llm import ToolChoice as ToolChoice
    from .llm import ToolResultPart as ToolResultPart
    from .llm import ToolSpec as ToolSpec
    from .llm import Usage as Usage
    from .observability import ConsoleHandler as ConsoleHandler
    from .observability import JsonlHandler as JsonlHandler
    from .observability import OtelHandler as OtelHandler
    from .observability import Tracer as Tracer
    from .tools import Tool as Tool
    from .tools import ToolRegistry as ToolRegistry
    from .tools import tool as tool

#: Public names whose modules load on first use: ``import llmgine`` stays light
#: (the runtime only); providers, the bus, tools, engines and the tracer
#: handlers (and with them httpx, rich, OpenTelemetry and MCP glue) load when
#: a program first touches them.
_LAZY: dict[str, str] = {
    "BusSession": ".bus",
    "Command": ".bus",
    "CommandResult": ".bus",
    "Event": ".bus",
    "MessageBus": ".bus",
    "SessionEnded": ".bus",
    "SessionStarted": ".bus",
    "AbandonTurn": ".engines",
    "ApproveTools": ".engines",
    "ChatEngine": ".engines",
    "ChatResult": ".engines",
    "ClearConversation": ".engines",
    "ContextWindow": ".engines",
    "Conversation": ".engines",
    "GetHistory": ".engines",
    "ResumeTurn": ".engines",
    "SQLiteConversationStore": ".engines",
    "UsageLimits": ".engines",
    "UserInput": ".engines",
    "agent_tool": ".engines",
    "stream_turn": ".engines",
    "AnthropicProvider": ".llm",
    "BlobPart": ".llm",
    "FallbackProvider": ".llm",
    "FinishReason": ".llm",
    "GeminiProvider": ".llm",
    "LLMRequest": ".llm",
    "LLMResponse": ".llm",
    "Message": ".llm",
    "OpenAICompatibleProvider": ".llm",
    "OpenAIProvider": ".llm",
    "ProviderActor": ".llm",
    "ProviderPart": ".llm",
    "ReasoningPart": ".llm",
    "Role": ".llm",
    "ScriptedProvider": ".llm",
    "TextPart": ".llm",
    "ToolCallPart": ".llm",
    "ToolChoice": ".llm",
    "ToolResultPart": ".llm",
    "ToolSpec": ".llm",
    "Usage": ".llm",
    "ConsoleHandler": ".observability",
    "JsonlHandler": ".observability",
    "OtelHandler": ".observability",
    "Tracer": ".observability",
    "Tool": ".tools",
    "ToolRegistry": ".tools",
    "tool": ".tools",
}
#: Subpackages reachable as attributes (``llmgine.bus``) without an import.
_SUBPACKAGES = frozenset(
    {"actors", "bus", "cli", "engines", "llm", "observability", "testing", "tools"}
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Load a public name (or a subpackage) on first use."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBPACKAGES})


__all__ = [
    "AbandonTurn",
    "Actor",
    "ActorContext",
    "ActorRef",
    "ActorStatistics",
    "ActorStopped",
    "ActorSystem",
    "AnthropicProvider",
    "ApproveTools",
    "AskTimeout",
    "AuthenticationError",
    "Backoff",
    "BadRequestError",
    "BlobPart",
    "BreakerState",
    "BusSession",
    "ChatEngine",
    "ChatResult",
    "CircuitBreaker",
    "CircuitOpenError",
    "ClearConversation",
    "Command",
    "CommandResult",
    "ConfigurationError",
    "ConsoleHandler",
    "ContentFilterError",
    "ContextWindow",
    "ContextWindowError",
    "Conversation",
    "DeadLetter",
    "DeadLetterReason",
    "DeadLetters",
    "Deferred",
    "DuplicateHandlerError",
    "EngineError",
    "Event",
    "Failure",
    "FallbackProvider",
    "FinishReason",
    "GeminiProvider",
    "GetHistory",
    "HandlerError",
    "JSONNestingError",
    "JsonlHandler",
    "LLMRequest",
    "LLMResponse",
    "LLMgineError",
    "Mailbox",
    "MailboxFull",
    "MalformedResponseError",
    "MaxStepsExceeded",
    "Message",
    "MessageBus",
    "NoHandlerError",
    "OneForAll",
    "OneForOne",
    "OpenAICompatibleProvider",
    "OpenAIProvider",
    "OtelHandler",
    "OutputValidationError",
    "Overflow",
    "Priority",
    "ProviderActor",
    "ProviderError",
    "ProviderPart",
    "ProviderTimeout",
    "ProviderUnavailable",
    "QuotaExceededError",
    "RateLimitError",
    "ReasoningPart",
    "RecordKind",
    "RestForOne",
    "Restart",
    "ResumeTurn",
    "Role",
    "SQLiteConversationStore",
    "SQLiteDeadLetterStore",
    "ScriptedProvider",
    "SessionEnded",
    "SessionStarted",
    "StoredMessage",
    "SupervisionError",
    "SupervisorRef",
    "SystemStatistics",
    "TextPart",
    "Tool",
    "ToolCallPart",
    "ToolChoice",
    "ToolError",
    "ToolRegistry",
    "ToolResultPart",
    "ToolSpec",
    "TraceRecord",
    "Tracer",
    "Usage",
    "UsageLimitExceeded",
    "UsageLimits",
    "UserInput",
    "__version__",
    "agent_tool",
    "current_system",
    "open_actor_system",
    "stream_turn",
    "tool",
    "traced",
]
