"""The llmgine chaos stress suite.

Scenarios (``stress.scenarios.SCENARIOS``) drive actor systems under load and
faults and check that nothing accepted is lost. Run it with ``llmgine stress
[--quick]`` anywhere (a wheel carries this folder as ``llmgine._stress``), with
``python -m stress [--quick]`` from a checkout, or from code::

    results = run_suite(quick=True, seed=1)
    assert all(r.ok for r in results)
"""

from .report import render_table as render_table
from .report import to_json as to_json
from .result import ScenarioResult as ScenarioResult
from .runner import main as main
from .runner import run_scenario as run_scenario
from .runner import run_suite as run_suite
from .scenarios import SCENARIOS as SCENARIOS
from .scenarios import Scenario as Scenario

__all__ = [
    "SCENARIOS",
    "Scenario",
    "ScenarioResult",
    "main",
    "render_table",
    "run_scenario",
    "run_suite",
    "to_json",
]
