"""``llmgine bench``: one table of every benchmark, targets checked, plain help."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from stress import bench as bench_module
from stress import bench_import
from stress._paired import Rounds, paired

Loader = Callable[[str], Callable[[list[str]], dict[str, Any]] | None]


def _only(figures: dict[str, dict[str, float]]) -> Loader:
    def load(name: str) -> Callable[[list[str]], dict[str, Any]] | None:
        if name not in figures:
            return None
        return lambda argv: figures[name]

    return load


def test_bench_combines_the_modules() -> None:
    calls = []

    def fake(name: str) -> Callable[[list[str]], dict[str, Any]] | None:
        if name == "bus":
            return None

        def run(argv: list[str]) -> dict[str, float]:
            calls.append((name, argv))
            print(f"{name} own table")
            return {"tell_vs_loop": 0.9, "ask_vs_pingpong": 1.2, "tell_per_s": 5e5}

        return run

    figures, printed = bench_module.collect(True, loader=fake)
    assert [c[0] for c in calls] == ["runtime", "tracer", "import"]
    assert all(argv == ["--quick"] for _, argv in calls)
    assert printed["runtime"] == "runtime own table\n"
    met = {(f.bench, f.key): f.met for f in figures}
    assert met["runtime", "tell_vs_loop"] is True
    assert met["runtime", "ask_vs_pingpong"] is False  # 1.2x < 1.6x
    assert met["runtime", "tell_per_s"] is None
    assert bench_module.render(figures).row_count == 9


def test_targets_come_from_the_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_module = types.SimpleNamespace(PUBLISH_TARGET=330_000, P99_TARGET_MS=0.5)
    monkeypatch.setitem(sys.modules, "stress.bench_bus", fake_module)

    def run(argv: list[str]) -> dict[str, float]:
        return {"publish_1_per_s": 400_000.0, "latency_p99_ms": 0.7, "other": 3.0}

    figures, _ = bench_module.collect(benches=["bus"], loader=lambda name: run)
    by_key = {f.key: f for f in figures}
    assert by_key["publish_1_per_s"].met is True
    assert by_key["publish_1_per_s"].show(330_000) == "330,000/s"
    assert by_key["latency_p99_ms"].ceiling
    assert by_key["latency_p99_ms"].met is False  # 0.7 ms > 0.5 ms
    assert by_key["latency_p99_ms"].show(0.5) == "0.5 ms"
    assert (by_key["other"].name, by_key["other"].met) == ("other", None)
    assert by_key["other"].show(3.0) == "3"


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("publish_1_built_per_s", "publish → 1 handler, event built each time"),
        ("latency_preemptions", "context switches forced by the OS"),
        ("some_new_thing_per_s", "some new thing"),
        ("spans_vs_none", "spans vs none"),
        ("gc_pause_ms", "gc pause"),
    ],
)
def test_row_labels_are_words_not_keys(key: str, label: str) -> None:
    (figure,), _ = bench_module.collect(
        benches=["bus"], loader=lambda name: lambda argv: {key: 1.0}
    )
    assert figure.name == label


def test_every_figure_the_modules_return_has_a_label() -> None:
    for label, *_ in bench_module.KNOWN.values():
        assert "_" not in label


def test_a_missed_target_exits_1_and_says_which(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loader = _only({"runtime": {"tell_vs_loop": 0.5, "ask_vs_pingpong": 2.0}})
    monkeypatch.setattr(bench_module, "_load", loader)
    assert bench_module.main(["--quick", "runtime"]) == 1
    out = capsys.readouterr().out
    assert "NOT met" in out
    assert "1 of 2 targets met" in out
    assert "not met runtime: tell → receive 0.50x (target >= 0.60x)" in out


def test_no_check_only_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_module, "_load", _only({"runtime": {"tell_vs_loop": 0.5}}))
    assert bench_module.main(["--quick", "--no-check"]) == 0
    assert "NOT met" in capsys.readouterr().out


def test_met_targets_exit_0_and_absent_benches_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_module, "_load", _only({"tracer": {"quiet_vs_none": 0.99}}))
    assert bench_module.main(["--quick", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "tracer on, untraced tells" in out
    assert "not present: runtime, bus, import" in out


def test_names_pick_benchmarks_in_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def load(name: str) -> None:
        asked.append(name)

    monkeypatch.setattr(bench_module, "_load", load)
    assert bench_module.main(["import", "runtime"]) == 0
    assert asked == ["runtime", "import"]


def test_an_unknown_benchmark_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench_module.main(["nope"])
    assert exit_.value.code == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_module.main(["--help"])
    out = capsys.readouterr().out
    for name in bench_module.BENCHES:
        assert f"  {name} " in out
    assert "--no-check" in out
    assert "``" not in out
    assert ".py" not in out


def test_the_modules_load_and_a_missing_one_is_absent() -> None:
    assert bench_module._load("runtime") is not None
    assert bench_module._load("import") is not None
    assert bench_module._load("does_not_exist") is None


def test_a_broken_module_is_not_reported_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str, package: str | None = None) -> types.ModuleType:
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    monkeypatch.setattr(bench_module.importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="numpy"):
        bench_module._load("runtime")


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _io
import time:       300 |       1200 |     attr._make
import time:      2000 |      50000 | trio
import time:       500 |       3000 | attrs
"""


def test_importtime_output_is_parsed() -> None:
    table = bench_import.parse_importtime(IMPORTTIME)
    assert table["trio"] == (2000, 50000, 0)
    assert table["attr._make"] == (300, 1200, 2)
    assert bench_import.total_ms(table, ("trio", "attrs", "absent")) == 53.0
    assert bench_import.total_ms(table, ("_io",)) == 0.0  # not a top-level import


def test_the_import_bench_reports_a_ratio(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake(modules: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
        if modules == bench_import.PACKAGE:
            return {"llmgine": (5000, 120_000, 0), "llmgine.actors": (9000, 9000, 1)}
        return {m: (1000, 25_000, 0) for m in modules}

    monkeypatch.setattr(bench_import, "measure", fake)
    figures = bench_import.main(["--quick", "--top", "3"])
    assert figures["import_ms"] == 120.0
    assert figures["deps_import_ms"] == 100.0
    assert figures["import_vs_deps"] == pytest.approx(1.2)
    out = capsys.readouterr().out
    assert "ratio 1.20x" in out
    assert "llmgine.actors" in out


def test_a_failing_import_is_reported() -> None:
    with pytest.raises(RuntimeError, match="no_such_module_here"):
        bench_import.measure(("no_such_module_here",))


def test_one_lucky_baseline_round_does_not_move_a_paired_ratio() -> None:
    # The machine ran the baseline's third round unusually fast; the ratio of
    # the best rates would read 0.5x, the per-round ratios say 1.0x.
    rounds = Rounds()
    for llmgine, baseline in ((100, 100), (90, 90), (100, 200), (80, 80), (95, 95)):
        rounds.add("llmgine", llmgine)
        rounds.add("baseline", baseline)
    assert rounds.best("llmgine") / rounds.best("baseline") == 0.5
    assert rounds.ratio("llmgine", "baseline") == 1.0
    assert rounds.best("baseline") == 200


def test_paired_ratios_need_the_same_rounds_on_both_sides() -> None:
    with pytest.raises(ValueError, match="same number of rounds"):
        paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="same number of rounds"):
        paired([], [])


@pytest.mark.parametrize(
    ("bench", "argv"),
    [("store", ["--seconds", "0.2"]), ("durable", ["--turns", "3", "--rounds", "1"])],
)
def test_the_on_demand_store_benches_report_labelled_figures(
    bench: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    run = bench_module._load(bench)
    assert run is not None
    assert bench in bench_module.ON_DEMAND
    figures = run(argv)
    assert set(figures) <= set(bench_module.KNOWN)
    assert all(value > 0 for value in figures.values())
    assert capsys.readouterr().out
