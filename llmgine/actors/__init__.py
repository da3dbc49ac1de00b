"""The actor runtime: actors, mailboxes, supervision, breakers, dead letters.

It knows nothing of LLMs or of the bus.
"""

from .._exceptions import ActorStopped as ActorStopped
from .._exceptions import AskTimeout as AskTimeout
from .._exceptions import CircuitOpenError as CircuitOpenError
from .._exceptions import MailboxFull as MailboxFull
from .._exceptions import SupervisionError as SupervisionError
from ..tracing import RecordKind as RecordKind
from ..tracing import Span as Span
from ..tracing import TraceContext as TraceContext
from ..tracing import TraceRecord as TraceRecord
from ..tracing import TraceSink as TraceSink
from ..tracing import current_trace as current_trace
from ..tracing import traced as traced
from ._actor import Actor as Actor
from ._actor import ActorContext as ActorContext
from ._actor import Failure as Failure
from ._breaker import BreakerState as BreakerState
from ._breaker import CircuitBreaker as CircuitBreaker
from ._dead_letter_store import SQLiteDeadLetterStore as SQLiteDeadLetterStore
from ._dead_letters import DeadLetter as DeadLetter
from ._dead_letters import DeadLetterReason as DeadLetterReason
from ._dead_letters import DeadLetters as DeadLetters
from ._dead_letters import DeadLetterStatistics as DeadLetterStatistics
from ._dead_letters import DeadLetterStore as DeadLetterStore
from ._deferred import Deferred as Deferred
from ._letter_codec import StoredError as StoredError
from ._letter_codec import StoredMessage as StoredMessage
from ._mailbox import Mailbox as Mailbox
from ._mailbox import Overflow as Overflow
from ._mailbox import Priority as Priority
from ._ref import ActorRef as ActorRef
from ._ref import ActorStatistics as ActorStatistics
from ._supervisor import Backoff as Backoff
from ._supervisor import OneForAll as OneForAll
from ._supervisor import OneForOne as OneForOne
from ._supervisor import Restart as Restart
from ._supervisor import RestForOne as RestForOne
from ._supervisor import Strategy as Strategy
from ._supervisor import SupervisorRef as SupervisorRef
from ._system import ActorSystem as ActorSystem
from ._system import SystemStatistics as SystemStatistics
from ._system import current_system as current_system
from ._system import open_actor_system as open_actor_system
