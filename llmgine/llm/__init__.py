"""The standard LLM contract and the providers that speak it."""

from ._actor import ProviderActor as ProviderActor
from ._anthropic import AnthropicCodec as AnthropicCodec
from ._anthropic import AnthropicProvider as AnthropicProvider
from ._base import Codec as Codec
from ._base import Provider as Provider
from ._base import StreamDecoder as StreamDecoder
from ._fallback import FallbackProvider as FallbackProvider
from ._gemini import GeminiCodec as GeminiCodec
from ._gemini import GeminiProvider as GeminiProvider
from ._http import HTTPProvider as HTTPProvider
from ._openai import OpenAICodec as OpenAICodec
from ._openai import OpenAICompatibleProvider as OpenAICompatibleProvider
from ._openai import OpenAIProvider as OpenAIProvider
from ._retry import RetryPolicy as RetryPolicy
from ._scripted import ScriptedProvider as ScriptedProvider
from ._scripted import ScriptExhausted as ScriptExhausted
from ._scripted import ScriptItem as ScriptItem
from ._scripted import split_response as split_response
from ._sse import SSEDecoder as SSEDecoder
from ._sse import SSEEvent as SSEEvent
from ._stream import ProviderDelta as ProviderDelta
from ._stream import ReasoningDelta as ReasoningDelta
from ._stream import StreamAccumulator as StreamAccumulator
from ._stream import StreamEvent as StreamEvent
from ._stream import StreamFinish as StreamFinish
from ._stream import TextDelta as TextDelta
from ._stream import ToolCallDelta as ToolCallDelta
from ._types import BlobPart as BlobPart
from ._types import FinishReason as FinishReason
from ._types import LLMRequest as LLMRequest
from ._types import LLMResponse as LLMResponse
from ._types import Message as Message
from ._types import Part as Part
from ._types import ProviderPart as ProviderPart
from ._types import ReasoningPart as ReasoningPart
from ._types import Role as Role
from ._types import TextPart as TextPart
from ._types import ToolCallPart as ToolCallPart
from ._types import ToolChoice as ToolChoice
from ._types import ToolResultPart as ToolResultPart
from ._types import ToolSpec as ToolSpec
from ._types import Usage as Usage

__all__ = [
    "AnthropicCodec",
    "AnthropicProvider",
    "BlobPart",
    "Codec",
    "FallbackProvider",
    "FinishReason",
    "GeminiCodec",
    "GeminiProvider",
    "HTTPProvider",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "OpenAICodec",
    "OpenAICompatibleProvider",
    "OpenAIProvider",
    "Part",
    "Provider",
    "ProviderActor",
    "ProviderDelta",
    "ProviderPart",
    "ReasoningDelta",
    "ReasoningPart",
    "RetryPolicy",
    "Role",
    "SSEDecoder",
    "SSEEvent",
    "ScriptExhausted",
    "ScriptItem",
    "ScriptedProvider",
    "StreamAccumulator",
    "StreamDecoder",
    "StreamEvent",
    "StreamFinish",
    "TextDelta",
    "TextPart",
    "ToolCallDelta",
    "ToolCallPart",
    "ToolChoice",
    "ToolResultPart",
    "ToolSpec",
    "Usage",
    "split_response",
]
