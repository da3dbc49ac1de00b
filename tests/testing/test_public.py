"""The public surface of llmgine.testing is exactly what is meant."""

from __future__ import annotations

import llmgine.testing

EXPECTED = {
    "Chaos",
    "ChaosStatistics",
    "ChaosTransport",
    "Fault",
    "FaultInjector",
    "FaultSchedule",
    "FaultStatistics",
    "FaultWindow",
    "FaultyActor",
    "FaultyFactory",
    "InjectedFault",
    "ScriptedProvider",
    "TestProvider",
    "example_value",
    "faulty",
}


def test_all_is_the_public_surface() -> None:
    assert set(llmgine.testing.__all__) >= EXPECTED
    assert llmgine.testing.__all__ == sorted(llmgine.testing.__all__)
    public = {name for name in vars(llmgine.testing) if not name.startswith("_")}
    assert public == set(llmgine.testing.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in llmgine.testing.__all__:
        obj = getattr(llmgine.testing, name)
        assert (obj.__doc__ or "").strip(), name
        assert obj.__module__.startswith("llmgine."), name


def test_scripted_provider_is_the_llm_one() -> None:
    from llmgine.llm import ScriptedProvider

    assert llmgine.testing.ScriptedProvider is ScriptedProvider
