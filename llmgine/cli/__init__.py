"""The ``llmgine`` command: ``demo``, ``chat``, ``trace``, ``stress`` and ``bench``.

Run ``llmgine --help`` (or ``python -m llmgine --help``). :func:`main` takes
the arguments and returns the exit code, so the command can be driven from
code and tests: ``main(["demo"])``.
"""

from ._main import main as main

__all__ = ["main"]
