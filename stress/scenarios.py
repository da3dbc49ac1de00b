"""The scenarios of the chaos stress suite, by name, in the order they run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from ._chaos import breaker_storm, crashes, escalation
from ._chat import chat_sessions
from ._cluster import available as cluster_available
from ._cluster import cluster
from ._crash import crash
from ._load import burst, shutdown, slow_consumers, steady
from ._run import Run
from ._sessions import sessions
from ._trees import trees

__all__ = ["SCENARIOS", "Scenario"]


@attrs.frozen(kw_only=True)
class Scenario:
    """A named scenario: a body that drives a :class:`Run` (seeded) to its end."""

    name: str
    body: Callable[[Run], Awaitable[None]]

    @property
    def description(self) -> str:
        """The first line of the body's docstring."""
        return (self.body.__doc__ or "").strip().splitlines()[0]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(name="steady", body=steady),
        Scenario(name="burst", body=burst),
        Scenario(name="crashes", body=crashes),
        Scenario(name="escalation", body=escalation),
        Scenario(name="trees", body=trees),
        Scenario(name="breaker_storm", body=breaker_storm),
        Scenario(name="slow_consumers", body=slow_consumers),
        Scenario(name="sessions", body=sessions),
        Scenario(name="chat", body=chat_sessions),
        Scenario(name="shutdown", body=shutdown),
        Scenario(name="crash", body=crash),
    )
}
if cluster_available():  # Ray nodes killed under load: needs the llmgine[ray] extra
    SCENARIOS["cluster"] = Scenario(name="cluster", body=cluster)
