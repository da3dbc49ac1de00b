"""The seam to Ray: importing it, awaiting its object refs from trio, pickling.

Ray is optional (the ``llmgine[ray]`` extra); nothing here imports it until a
cluster is used, and everything Ray hands back is typed ``Any``.
"""

from __future__ import annotations

import contextlib
import importlib
import pickle
from typing import Any

import trio

from .._exceptions import ConfigurationError

__all__ = ["await_ref", "check_pickles", "import_ray"]


def import_ray() -> Any:
    """The ``ray`` module, or :class:`ConfigurationError` naming the extra."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ConfigurationError(
            "llmgine.cluster needs Ray: pip install 'llmgine[ray]'"
        ) from exc


async def await_ref(ref: Any) -> Any:
    """The value of a Ray ``ObjectRef``, awaited from trio without a thread.

    The ref's ``concurrent.futures`` future calls back from Ray's thread; the
    callback reschedules this task through the trio token, so waiting costs
    no worker thread and no polling. Cancelling the wait leaves the Ray call
    running (its result is dropped).
    """
    future = ref.future()
    token = trio.lowlevel.current_trio_token()
    task = trio.lowlevel.current_task()
    state = {"waiting": True}

    def wake(_: object) -> None:
        if state["waiting"]:
            state["waiting"] = False
            trio.lowlevel.reschedule(task)

    def done(_: object) -> None:
        with contextlib.suppress(trio.RunFinishedError):  # the run ended meanwhile
            token.run_sync_soon(wake, None)

    def abort(_: object) -> trio.lowlevel.Abort:
        state["waiting"] = False
        return trio.lowlevel.Abort.SUCCEEDED

    future.add_done_callback(done)
    await trio.lowlevel.wait_task_rescheduled(abort)
    return future.result()


def check_pickles(value: object, what: str) -> None:
    """Raise :class:`ConfigurationError` naming ``what`` unless ``value`` pickles.

    Plain pickle is tried first (about 2 µs for a small message); what it
    refuses, Ray's cloudpickle may still carry (lambdas, local classes).
    """
    try:
        pickle.dumps(value, 5)
    except Exception:
        try:
            import_ray().cloudpickle.dumps(value)
        except Exception as exc:
            raise ConfigurationError(
                f"{what} must pickle to cross to a Ray node (got {value!r}: {exc})"
            ) from exc
