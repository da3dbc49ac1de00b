"""``RayCluster``: where an actor system's nodes run, and its driver-side runtime."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import trio

from .._exceptions import ConfigurationError
from ..actors import Backoff
from ._node import NodeHandle, NodeRef
from ._ray import import_ray

if TYPE_CHECKING:
    from ..actors import ActorSystem

__all__ = ["ClusterRuntime", "RayCluster"]


class RayCluster:
    """A Ray cluster for ``open_actor_system(..., cluster=RayCluster(...))``.

    With ``address=None`` and no Ray running in this process, a local Ray
    cluster is started (with ``num_cpus`` CPUs) and shut down when the actor
    system closes; ``address="auto"`` (or ``"ray://host:10001"``) joins a
    running one, which is left running. Other keywords go to ``ray.init``.
    When Ray is already initialised in this process, it is used as it is.
    Raises :class:`ConfigurationError` when Ray is not installed.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        **ray_init_kwargs: Any,
    ) -> None:
        import_ray()
        if num_cpus is not None and (
            isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1
        ):
            raise ConfigurationError(
                f"'num_cpus' must be a positive int (got {num_cpus!r})"
            )
        self.address = address
        self.num_cpus = num_cpus
        self.ray_init_kwargs = ray_init_kwargs

    def __repr__(self) -> str:
        return f"RayCluster(address={self.address!r}, num_cpus={self.num_cpus!r})"

    async def attach(self, system: ActorSystem) -> ClusterRuntime:
        """Connect to Ray (starting it if needed) for ``system``."""
        runtime = ClusterRuntime(system)
        await runtime.connect(self)
        return runtime


class _RayOwner:
    """A thread that starts Ray, lives while it runs, and shuts it down.

    Ray's local processes die with the thread that started them (they are
    started with a parent-death signal, and Linux sends it when the parent
    *thread* ends). A pooled worker thread ends when idle, so Ray is started
    and stopped by a thread of its own that waits in between.
    """

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = kwargs
        self._started = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Event()
        self.error: BaseException | None = None
        thread = threading.Thread(target=self._run, name="llmgine-ray", daemon=True)
        thread.start()

    def _run(self) -> None:
        ray = import_ray()
        try:
            ray.init(**self._kwargs)
        except BaseException as exc:
            self.error = exc
            self._started.set()
            self._done.set()
            return
        self._started.set()
        self._stop.wait()
        try:
            ray.shutdown()
        finally:
            self._done.set()

    async def wait_started(self) -> None:
        await trio.to_thread.run_sync(self._started.wait)
        if self.error is not None:
            raise self.error

    def shutdown(self) -> None:
        """Ask the thread to shut Ray down (returns at once)."""
        self._stop.set()

    async def wait_done(self) -> None:
        self.shutdown()
        await trio.to_thread.run_sync(self._done.wait)


class ClusterRuntime:
    """The driver's side of a cluster for one actor system: its nodes."""

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.nodes: dict[str, NodeHandle] = {}
        self._owner: _RayOwner | None = None

    async def connect(self, cluster: RayCluster) -> None:
        ray = import_ray()
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            **cluster.ray_init_kwargs,
        }
        if cluster.address is not None:
            kwargs["address"] = cluster.address
        if cluster.num_cpus is not None:
            kwargs["num_cpus"] = cluster.num_cpus
        owner = _RayOwner(kwargs)
        await owner.wait_started()
        self._owner = owner

    async def spawn_node(
        self,
        name: str,
        *,
        max_restarts: int = 3,
        within: float = 5.0,
        backoff: Backoff | None = None,
        heartbeat: float = 1.0,
        **ray_options: Any,
    ) -> NodeRef:
        """Start a node; see :meth:`ActorSystem.spawn_node`."""
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigurationError(
                f"'name' must be a non-empty str without '/' (got {name!r})"
            )
        if name in self.nodes:
            raise ConfigurationError(f"node {name!r} is already running")
        if (
            isinstance(max_restarts, bool)
            or not isinstance(max_restarts, int)
            or (max_restarts < 0)
        ):
            raise ConfigurationError(
                f"'max_restarts' must be an int >= 0 (got {max_restarts!r})"
            )
        for label, value in (("within", within), ("heartbeat", heartbeat)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value <= 0
            ):
                raise ConfigurationError(
                    f"'{label}' must be a positive number (got {value!r})"
                )
        handle = NodeHandle(
            self.system,
            name,
            max_restarts=max_restarts,
            within=float(within),
            backoff=backoff,
            heartbeat=float(heartbeat),
            ray_options=ray_options,
        )
        await handle.start()
        self.nodes[name] = handle
        return NodeRef(handle)

    def counters(self) -> tuple[int, ...]:
        """Counters of every remote ref, summed (see :meth:`NodeHandle.counters`)."""
        total = [0] * 8
        for node in self.nodes.values():
            for index, value in enumerate(node.counters()):
                total[index] += value
        return tuple(total)

    async def aclose(self) -> None:
        """Stop every node, newest first, then Ray if this runtime started it."""
        for node in reversed(list(self.nodes.values())):
            await node.aclose()
        owner, self._owner = self._owner, None
        if owner is not None:
            await owner.wait_done()

    def abort(self) -> None:
        """Kill every node at once (the system is leaving by an error)."""
        for node in self.nodes.values():
            node.abort()
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.shutdown()
