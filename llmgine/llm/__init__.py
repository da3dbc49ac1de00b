"""The standard LLM contract and the providers that speak it."""

from ._types import BlobPart as BlobPart
from ._types import FinishReason as FinishReason
from ._types import LLMRequest as LLMRequest
from ._types import LLMResponse as LLMResponse
from ._types import Message as Message
from ._types import Part as Part
from ._types import ReasoningPart as ReasoningPart
from ._types import Role as Role
from ._types import TextPart as TextPart
from ._types import ToolCallPart as ToolCallPart
from ._types import ToolChoice as ToolChoice
from ._types import ToolResultPart as ToolResultPart
from ._types import ToolSpec as ToolSpec
from ._types import Usage as Usage
