"""Helpers for testing llmgine applications: fault injection and chaos.

- :func:`faulty` / :class:`FaultyActor`: actors that crash, fail, hang or slow
  down at given rates (or on chosen messages), driven by a seeded
  :class:`FaultInjector`.
- :class:`FaultSchedule`: turn faults on and off by trio's clock.
- :class:`ChaosTransport`: an httpx transport answering 429s, 500s, 529s,
  timeouts, truncated bodies and malformed server-sent events.
- :class:`ScriptedProvider` (from :mod:`llmgine.llm`): an LLM provider that
  answers from a script, for tests and offline demos.
- :class:`TestProvider`: a provider that calls every tool it is offered with
  arguments valid against the tool's schema, then answers, for tests that
  need no script; :func:`example_value` builds such values from a JSON Schema.
"""

from ..llm import ScriptedProvider as ScriptedProvider
from ._actors import FaultyActor as FaultyActor
from ._actors import FaultyFactory as FaultyFactory
from ._actors import faulty as faulty
from ._examples import example_value as example_value
from ._faults import Fault as Fault
from ._faults import FaultInjector as FaultInjector
from ._faults import FaultStatistics as FaultStatistics
from ._faults import InjectedFault as InjectedFault
from ._schedule import FaultSchedule as FaultSchedule
from ._schedule import FaultWindow as FaultWindow
from ._test_provider import TestProvider as TestProvider
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
    "TestProvider",
    "example_value",
    "faulty",
]
