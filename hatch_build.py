"""Build hook: the wheel carries the stress suite as ``llmgine._stress``.

``stress/`` in the source tree stays the suite's home (``python -m stress``
runs it from a checkout); an installed wheel has it inside the package, so no
top-level module called ``stress`` lands on anyone's path. Editable installs
import the checkout's folder directly and get no copy.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class StressSuiteHook(BuildHookInterface):
    """Maps ``stress/`` to ``llmgine/_stress`` in standard (non-editable) wheels."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the suite to the wheel unless this is an editable build."""
        if self.target_name == "wheel" and version == "standard":
            build_data["force_include"]["stress"] = "llmgine/_stress"
