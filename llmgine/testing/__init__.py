"""Helpers for testing llmgine applications: fault injection and chaos.

- :func:`faulty` / :class:`FaultyActor`: actors that crash, fail, hang or slow
  down at given rates (or on chosen messages), driven by a seeded
  :class:`FaultInjector`.
- :class:`FaultSchedule`: turn faults on and off by trio's clock.
- :class:`ChaosTransport`: an httpx transport answering 429s, 500s, 529s,
  timeouts, truncated bodies and malformed server-sent events.
- :class:`ScriptedProvider` (from :mod:`llmgine.llm`): an LLM provider that
  answers from a script, for tests and offline demos.
"""

from ..llm import ScriptedProvider as ScriptedProvider
from ._actors import FaultyActor as FaultyActor
from ._actors import FaultyFactory as FaultyFactory
from ._actors import faulty as faulty
from ._faults import Fault as Fault
from ._faults import FaultInjector as FaultInjector
from ._faults import FaultStatistics as FaultStatistics
from ._faults import InjectedFault as InjectedFault
from ._schedule import FaultSchedule as FaultSchedule
from ._schedule import FaultWindow as FaultWindow
from ._transport import Chaos as Chaos
from ._transport import ChaosStatistics as ChaosStatistics
from ._transport import ChaosTransport as ChaosTransport

__all__ = [
    "Chaos",
    "ChaosStatistics",
    "ChaosTransport",
    "Fault",
    "FaultInjector",
    "FaultSchedule",
    "FaultStatistics",
    "FaultWindow",
    "FaultyActor",
    "FaultyFactory",
    "InjectedFault",
    "ScriptedProvider",
    "faulty",
]
