"""Finding the stress suite: the wheel's ``llmgine._stress`` or the checkout's folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from llmgine.cli import _suite
from llmgine.cli._common import CLIError

from .conftest import Run


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the suite, so the next import finds it again."""
    for name in [m for m in sys.modules if m.startswith(_suite.SUITE)]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.usefixtures("fresh")
def test_a_checkout_loads_its_stress_folder_under_the_package_name() -> None:
    runner = _suite.import_suite("runner")
    assert runner.__name__ == "llmgine._stress.runner"
    root = Path(_suite.__file__).resolve().parents[2]
    assert Path(runner.__file__).parent == root / "stress"
    assert callable(runner.main)


@pytest.mark.usefixtures("fresh")
def test_the_suite_is_never_put_on_the_path_as_stress() -> None:
    before = list(sys.path)
    _suite.import_suite("bench")
    assert sys.path == before


@pytest.mark.usefixtures("fresh")
def test_an_installed_suite_is_preferred(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed = tmp_path / "llmgine" / "_stress"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    (installed / "runner.py").write_text("WHERE = 'wheel'\n")
    import llmgine

    monkeypatch.setattr(llmgine, "__path__", [*llmgine.__path__, str(installed.parent)])
    assert _suite.import_suite("runner").WHERE == "wheel"


@pytest.mark.usefixtures("fresh")
def test_a_missing_suite_is_a_clear_error(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_suite, "_checkout_folder", lambda: tmp_path / "stress")
    with pytest.raises(CLIError, match="stress suite is missing"):
        _suite.import_suite("runner")
    outcome = run("stress", "--quick")
    assert outcome.code == 2
    assert outcome.err.startswith("llmgine stress: error: the stress suite is missing")


@pytest.mark.usefixtures("fresh")
def test_an_error_inside_the_suite_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "stress"
    folder.mkdir()
    (folder / "__init__.py").write_text("import no_such_module_here\n")
    monkeypatch.setattr(_suite, "_checkout_folder", lambda: folder)
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        _suite.import_suite("runner")
    assert _suite.SUITE not in sys.modules
