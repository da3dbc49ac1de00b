"""Finding the stress suite: inside an installed wheel, or beside the package.

The suite's source is the top-level ``stress/`` folder of the llmgine source
tree. A wheel carries it as ``llmgine._stress``; in a checkout (an editable
install) the folder is loaded under that same name, so the command imports
one module name either way and never puts a top-level ``stress`` on the path.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ._common import CLIError

__all__ = ["SUITE", "import_suite"]

#: The package name the suite has inside llmgine.
SUITE = "llmgine._stress"


def _checkout_folder() -> Path:
    return Path(__file__).resolve().parents[2] / "stress"


def _load_suite() -> ModuleType:
    if importlib.util.find_spec(SUITE) is not None:
        return importlib.import_module(SUITE)
    folder = _checkout_folder()
    init = folder / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        SUITE, init, submodule_search_locations=[str(folder)]
    )
    if not init.is_file() or spec is None or spec.loader is None:
        raise CLIError(
            "the stress suite is missing: this llmgine was installed without it"
            f" (no {SUITE}, no stress/ beside the package); reinstall llmgine"
            " from its wheel or a source checkout"
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[SUITE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[SUITE]
        raise
    return module


def import_suite(part: str) -> ModuleType:
    """The module ``part`` (``runner``, ``bench``) of the stress suite.

    Raises :class:`CLIError` when neither the installed suite nor a checkout's
    ``stress/`` folder is there; an error inside the suite (a missing
    dependency) propagates as it is.
    """
    if SUITE not in sys.modules:
        _load_suite()
    return importlib.import_module(f"{SUITE}.{part}")
