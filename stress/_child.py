"""Running one of the suite's functions in a fresh interpreter.

The benchmarks run a server, and each load test, in a process of its own, so
that its CPU and memory are not the client's. multiprocessing's ``spawn``
would look a child's function up by its module's name, which a checkout's
suite has only in the process that loaded it (``llmgine._stress``, from the
``stress/`` folder: see ``llmgine.cli._suite``). Here the child finds the
suite the way the command does, wherever it is, and a child that dies is an
error in its parent, never a wait.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

__all__ = ["command", "run", "start"]

_CODE = """\
import json, sys
from llmgine.cli._suite import import_suite
function = getattr(import_suite(sys.argv[1]), sys.argv[2])
print(json.dumps(function(*json.loads(sys.argv[3]))), flush=True)
"""


def _part(module: str) -> str:
    """The suite's module ``module`` (``stress.x`` or ``llmgine._stress.x``) as ``x``."""
    return module.rpartition(".")[2]


def command(module: str, function: str, *args: Any) -> list[str]:
    """The command that calls ``function(*args)`` of the suite's ``module`` (a
    module's ``__name__``) and prints what it returns as JSON; ``args`` go as
    JSON."""
    return [sys.executable, "-c", _CODE, _part(module), function, json.dumps(args)]


def run(module: str, function: str, *args: Any) -> Any:
    """``function(*args)`` of the suite's ``module``, run in a fresh interpreter."""
    done = subprocess.run(
        command(module, function, *args), stdout=subprocess.PIPE, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{function}{tuple(args)!r} failed in its process (exit {done.returncode})"
        )
    return json.loads(done.stdout.splitlines()[-1])


def start(module: str, function: str, *args: Any) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``function(*args)`` of the suite's ``module`` in a fresh interpreter
    and return the process and the first line it prints (its address, say)."""
    process = subprocess.Popen(command(module, function, *args), stdout=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        code = process.wait()
        raise RuntimeError(f"{function} ended before it started (exit {code})")
    return process, line.decode().strip()
