"""An in-process stand-in for the few parts of Ray that ``llmgine.cluster`` uses.

A "Ray actor" here is a real :class:`~llmgine.cluster._host.NodeServer` in this
process (its actor system runs on trio in a thread of its own); each remote
call runs in a worker thread, with its arguments and result pickled as Ray
would, and hands back an object whose ``future()`` is a
``concurrent.futures.Future``. ``kill`` makes a node die: calls in flight
and later fail with :class:`ActorDied`, as Ray's actor-death errors do.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import threading
import types
from concurrent.futures import Future
from typing import Any


def _proxy(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(items)


def _mappingproxy(proxy: types.MappingProxyType[Any, Any]) -> Any:
    return (_proxy, (dict(proxy),))


def _dumps(value: object) -> bytes:
    """Pickle as Ray's cloudpickle does for what crosses here (mapping proxies too)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, 5)
    pickler.dispatch_table = {
        **copyreg.dispatch_table,
        types.MappingProxyType: _mappingproxy,
    }
    pickler.dump(value)
    return buffer.getvalue()


class RayTaskError(Exception):
    """The remote call itself raised (the node stays up)."""


class ActorDied(Exception):
    """The node's process is gone."""


class _ObjectRef:
    def __init__(self, future: Future[Any]) -> None:
        self._future = future

    def future(self) -> Future[Any]:
        return self._future


def _settle(
    future: Future[Any], value: Any = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    try:
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
    except Exception:  # settled by a kill meanwhile
        pass


class _Method:
    def __init__(self, handle: ActorHandle, name: str) -> None:
        self._handle = handle
        self._name = name

    def remote(self, *args: Any) -> _ObjectRef:
        return self._handle.call(self._name, args)


class ActorHandle:
    """One node process: a NodeServer made in this process."""

    def __init__(self, cls: type, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        self.options = options
        self.server = cls(*args)
        self.dead = False
        self.pending: set[Future[Any]] = set()
        self.threads: list[threading.Thread] = []
        self.hang = False  # calls never answer (a hung node)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> _Method:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Method(self, name)

    def call(self, name: str, args: tuple[Any, ...]) -> _ObjectRef:
        future: Future[Any] = Future()
        with self._lock:
            if self.dead:
                future.set_exception(ActorDied(f"the node died before {name}"))
                return _ObjectRef(future)
            if self.hang:
                self.pending.add(future)
                return _ObjectRef(future)
            self.pending.add(future)

        def run() -> None:
            try:
                try:
                    sent = pickle.loads(_dumps(args))
                except Exception as exc:
                    raise RayTaskError(
                        f"could not unpickle the arguments: {exc}"
                    ) from exc
                result = getattr(self.server, name)(*sent)
                _settle(future, pickle.loads(_dumps(result)))
            except BaseException as exc:
                _settle(future, error=exc if self.dead is False else ActorDied(str(exc)))
            finally:
                with self._lock:
                    self.pending.discard(future)

        thread = threading.Thread(target=run, daemon=True)
        self.threads.append(thread)
        thread.start()
        return _ObjectRef(future)

    def kill(self) -> None:
        """The process dies: what is in flight fails, the node's system stops."""
        with self._lock:
            if self.dead:
                return
            self.dead = True
            pending = list(self.pending)
        for future in pending:
            _settle(future, error=ActorDied("the node died"))
        if not self.server.finished.is_set():
            thread = threading.Thread(
                target=self.server.shutdown, args=(5.0,), daemon=True
            )
            self.threads.append(thread)
            thread.start()

    def join(self) -> None:
        for thread in list(self.threads):
            thread.join(10.0)
        self.server.thread.join(10.0)


class _ActorClass:
    def __init__(self, ray: FakeRay, cls: type, options: dict[str, Any]) -> None:
        self._ray = ray
        self._cls = cls
        self._options = options

    def options(self, **options: Any) -> _ActorClass:
        return _ActorClass(self._ray, self._cls, {**self._options, **options})

    def remote(self, *args: Any) -> ActorHandle:
        handle = ActorHandle(self._cls, args, self._options)
        self._ray.handles.append(handle)
        return handle


class _CloudPickle:
    @staticmethod
    def dumps(value: object) -> bytes:
        return _dumps(value)


class FakeRay(types.ModuleType):
    """What ``import ray`` gives while the fake is installed."""

    def __init__(
        self, *, initialized: bool = True, init_error: BaseException | None = None
    ) -> None:
        super().__init__("ray")
        self.exceptions = types.SimpleNamespace(RayTaskError=RayTaskError)
        self.cloudpickle = _CloudPickle()
        self.handles: list[ActorHandle] = []
        self.initialized = initialized
        self.init_error = init_error
        self.calls: list[tuple[str, Any]] = []

    def remote(self, cls: type) -> _ActorClass:
        return _ActorClass(self, cls, {})

    def kill(self, actor: ActorHandle, *, no_restart: bool) -> None:
        self.calls.append(("kill", no_restart))
        actor.kill()

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs: Any) -> None:
        self.calls.append(("init", kwargs))
        if self.init_error is not None:
            raise self.init_error
        self.initialized = True

    def shutdown(self) -> None:
        self.calls.append(("shutdown", None))
        self.initialized = False

    def join(self) -> None:
        for handle in self.handles:
            handle.kill()
            handle.join()
