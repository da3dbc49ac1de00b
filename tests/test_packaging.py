"""The wheel carries what the command needs: installed, ``llmgine`` runs anywhere.

Builds the wheel (no network: hatchling from the dev extra), installs it with
no dependencies into a fresh virtual environment that sees this environment's
packages for its dependencies only, and runs the commands from a directory
outside the checkout. Deselect with ``-m "not packaging"``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(COLUMNS="80", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("hatchling") is None:  # pragma: no cover
        pytest.skip("building the wheel needs hatchling (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("dist")
    pip = (sys.executable, "-m", "pip", "wheel", "-q", "--no-deps")
    build = _run(*pip, "--no-build-isolation", "-w", out, ROOT)
    assert build.returncode == 0, build.stderr
    (found,) = out.glob("llmgine-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the wheel installed; returns its bin directory."""
    home = tmp_path_factory.mktemp("venv")
    made = _run(sys.executable, "-m", "venv", "--without-pip", home)
    assert made.returncode == 0, made.stderr
    python = home / "bin" / "python"
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q",
        "--no-deps", "--no-index", wheel,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # Dependencies come from this environment: a plain path line, so its own
    # .pth files (the editable install of the checkout) are not processed.
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    deps = Path(sysconfig.get_path("purelib"))
    (Path(site.stdout.strip()) / "_llmgine_test_deps.pth").write_text(f"{deps}\n")
    return home / "bin"


def test_the_wheel_carries_the_suite_inside_the_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "llmgine/_stress/runner.py" in names
    assert "llmgine/_stress/bench.py" in names
    assert "llmgine/_stress/bench_import.py" in names
    assert not [n for n in names if n.startswith("stress/")]
    assert not [n for n in names if "__pycache__" in n]


def test_the_installed_package_is_the_wheel_and_has_no_top_level_stress(
    venv: Path, tmp_path: Path
) -> None:
    code = (
        "import importlib.util, llmgine, llmgine._stress as s;"
        "print(llmgine.__file__); print(s.__file__);"
        "print(importlib.util.find_spec('stress'))"
    )
    out = _run(venv / "python", "-c", code, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    package, suite, stress = out.stdout.splitlines()
    assert package.startswith(str(venv.parent))
    assert suite.startswith(str(venv.parent))
    assert stress == "None"


def test_stress_runs_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    out = _run(
        venv / "llmgine", "stress", "--quick", "--scenario", "steady", "--duration",
        "0.3", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "steady" in out.stdout
    assert "lost 0" in out.stdout


def test_child_processes_of_the_suite_find_it_in_the_wheel(
    venv: Path, tmp_path: Path
) -> None:
    out = _run(venv / "llmgine", "stress", "--quick", "--scenario", "crash", cwd=tmp_path)
    assert "ModuleNotFoundError" not in out.stdout + out.stderr
    assert out.returncode == 0, out.stdout[-2000:]


def test_bench_runs_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    # the quickest benchmark here; .ci/run runs them all from the wheel
    out = _run(venv / "llmgine", "bench", "--quick", "--no-check", "import", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "import llmgine" in out.stdout
    assert "not present" not in out.stdout


def test_help_and_the_demo_work_from_the_installed_wheel(
    venv: Path, tmp_path: Path
) -> None:
    for command in ("stress", "bench"):
        helped = _run(venv / "llmgine", command, "--help", cwd=tmp_path)
        assert helped.returncode == 0, helped.stderr
    demo = _run(venv / "llmgine", "demo", "--quiet", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
