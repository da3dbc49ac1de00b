"""Engines: the actors that hold conversations and drive models and tools.

:class:`ChatEngine` runs the tool-calling chat loop, one turn per
:class:`UserInput`, answering a :class:`ChatResult`. A :class:`Conversation`
keeps the history, trims what is sent with a :class:`ContextWindow`, and can
be saved in a :class:`SQLiteConversationStore` to resume later. With
``durable=True`` a turn is journalled as it goes: :class:`ResumeTurn` continues
it after a crash, :class:`AbandonTurn` drops it.
"""

from .._exceptions import OutputValidationError as OutputValidationError
from ._agent_tool import AgentTool as AgentTool
from ._agent_tool import agent_tool as agent_tool
from ._chat import ChatEngine as ChatEngine
from ._conversation import ContextPolicy as ContextPolicy
from ._conversation import ContextWindow as ContextWindow
from ._conversation import Conversation as Conversation
from ._conversation import estimate_tokens as estimate_tokens
from ._conversation import split_turns as split_turns
from ._engine import Engine as Engine
from ._engine import EngineEvent as EngineEvent
from ._engine import EngineState as EngineState
from ._engine import EngineStatus as EngineStatus
from ._engine import EventPublisher as EventPublisher
from ._engine import TurnFinished as TurnFinished
from ._engine import TurnStarted as TurnStarted
from ._messages import AbandonTurn as AbandonTurn
from ._messages import ApproveTools as ApproveTools
from ._messages import ChatResult as ChatResult
from ._messages import ClearConversation as ClearConversation
from ._messages import GetHistory as GetHistory
from ._messages import ResumeTurn as ResumeTurn
from ._messages import UsageLimits as UsageLimits
from ._messages import UserInput as UserInput
from ._settings import ToolExecutor as ToolExecutor
from ._store import ConversationStore as ConversationStore
from ._store import SQLiteConversationStore as SQLiteConversationStore
from ._stream import OutputReady as OutputReady
from ._stream import ToolExecuted as ToolExecuted
from ._stream import ToolProgress as ToolProgress
from ._stream import TurnEvent as TurnEvent
from ._stream import TurnStream as TurnStream
from ._stream import stream_turn as stream_turn

__all__ = [
    "AbandonTurn",
    "AgentTool",
    "ApproveTools",
    "ChatEngine",
    "ChatResult",
    "ClearConversation",
    "ContextPolicy",
    "ContextWindow",
    "Conversation",
    "ConversationStore",
    "Engine",
    "EngineEvent",
    "EngineState",
    "EngineStatus",
    "EventPublisher",
    "GetHistory",
    "OutputReady",
    "OutputValidationError",
    "ResumeTurn",
    "SQLiteConversationStore",
    "ToolExecuted",
    "ToolExecutor",
    "ToolProgress",
    "TurnEvent",
    "TurnFinished",
    "TurnStarted",
    "TurnStream",
    "UsageLimits",
    "UserInput",
    "agent_tool",
    "estimate_tokens",
    "split_turns",
    "stream_turn",
]
