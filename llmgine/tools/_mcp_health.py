"""An MCP server's health, shared by the incarnations of its actor, and its supervision.

A server that goes away (a remote one in an outage, a process that keeps
crashing) must not take the actor system down with it. So, by default, each
server's actor runs under a supervisor of its own whose restarts back off and
whose intensity the backoff can never exceed (:func:`outage_strategy`), and
while the connection is down the server's tools answer at once with an error
result, read from the :class:`ServerState` every incarnation shares.
"""

from __future__ import annotations

from .._exceptions import ConfigurationError, ToolError
from ..actors import Backoff, OneForOne

__all__ = ["DEFAULT_BACKOFF", "WINDOW", "ServerState", "outage_strategy"]

#: How an MCP server's own supervisor spaces its restarts by default.
DEFAULT_BACKOFF = Backoff(initial=0.25, maximum=10.0, multiplier=2.0)
#: The intensity window of that supervisor, in seconds.
WINDOW = 60.0
#: Restarts allowed within the window when the backoff's delays stop growing
#: (they are all zero, or shrink).
_UNBOUNDED = 100_000


def _limit(backoff: Backoff) -> int:
    """How many restarts the window count stops at: a thousand for a backoff
    that never waits (a test switch), else a bound the sum reaches first for
    any ``maximum`` of 0.12 s or more."""
    return 1000 if backoff.maximum == 0 else _UNBOUNDED


def outage_strategy(backoff: Backoff) -> OneForOne:
    """A one-for-one strategy whose intensity ``backoff`` alone never exceeds.

    A supervisor gives up after more than ``max_restarts`` restarts within
    ``within`` seconds; restart ``n`` of a window waits ``backoff.delay(n)``.
    So with ``max_restarts`` the least ``M`` whose first ``M`` delays add up to
    more than the window, ``M + 1`` restarts cannot fit in it, however long
    the outage lasts. (That holds for a ``maximum`` of 0.12 s or more and a
    ``multiplier`` of 4 or less; a backoff that waits not at all is a test
    switch, allowed a thousand restarts within the window.)
    """
    if not isinstance(backoff, Backoff):
        raise ConfigurationError(
            f"'backoff' must be a Backoff or None (got {type(backoff).__name__})"
        )
    total = 0.0
    restarts = 0
    limit = _limit(backoff)
    while total <= WINDOW and restarts < limit:
        restarts += 1
        total += backoff.delay(restarts)
    # One more restart than the sum allows: delays that add up to exactly the
    # window, in floating point, must not count against it.
    return OneForOne(max_restarts=max(restarts + 1, 3), within=WINDOW, backoff=backoff)


class ServerState:
    """What every incarnation of one server's actor shares.

    ``started`` is set once an incarnation has connected (a first start that
    fails is the spawner's to report); ``available`` says whether a connection
    is up now, and ``reason`` why not.
    """

    __slots__ = (
        "available",
        "path",
        "reason",
        "started",
    )

    def __init__(self) -> None:
        self.started = False
        self.path = ""
        self.available = False
        self.reason = "not connected yet"

    def up(self) -> None:
        """A connection is up."""
        self.available = True
        self.reason = ""

    def down(self, reason: str) -> None:
        """The connection went down (or a reconnection failed) for ``reason``."""
        self.available = False
        self.reason = reason

    def unavailable(self) -> ToolError:
        """The error a request made during an outage gets at once."""
        return ToolError(
            f"MCP server {self.path} is unavailable ({self.reason}); it is"
            " reconnecting, and the request was not sent"
        )
