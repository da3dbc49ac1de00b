"""Running the suite: one trio run per scenario, a progress display, the CLI entry."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

import trio
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ._run import Run
from .report import print_summary, to_json
from .result import ScenarioResult, summarize
from .scenarios import SCENARIOS

__all__ = ["main", "run_scenario", "run_suite"]


def run_scenario(
    name: str,
    *,
    profile: str = "quick",
    seed: int = 0,
    duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> ScenarioResult:
    """Run one scenario in its own trio run and return its checked result."""
    scenario = SCENARIOS[name]
    run = Run(
        name,
        profile=profile,
        seed=seed,
        duration=duration,
        on_progress=on_progress,
    )
    try:
        trio.run(run.execute, scenario.body)
    except Exception as exc:
        for leaf in _leaves(exc):
            detail = "".join(traceback.format_exception_only(leaf)).strip()
            run.failures.append(f"the scenario raised {detail}")
    return summarize(run)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def run_suite(
    quick: bool = False,
    scenario: str | None = None,
    seed: int = 0,
    duration: float | None = None,
    *,
    profile: str | None = None,
    on_progress: Callable[[str, float], None] | None = None,
) -> list[ScenarioResult]:
    """Run every scenario (or the one named), seeded; ``quick`` for a short run.

    ``duration`` overrides each scenario's load duration in seconds; ``profile``
    (``tiny``, ``quick``, ``full``) overrides ``quick``.
    """
    if scenario is not None and scenario not in SCENARIOS:
        raise ValueError(
            f"'scenario' must be one of {', '.join(SCENARIOS)} (got {scenario!r})"
        )
    chosen = profile or ("quick" if quick else "full")
    names = [scenario] if scenario else list(SCENARIOS)
    results = []
    for name in names:
        report = None if on_progress is None else _bind(on_progress, name)
        results.append(
            run_scenario(
                name, profile=chosen, seed=seed, duration=duration, on_progress=report
            )
        )
    return results


def _bind(callback: Callable[[str, float], None], name: str) -> Callable[[float], None]:
    return lambda fraction: callback(name, fraction)


def build_parser() -> argparse.ArgumentParser:
    """The arguments of ``llmgine stress``."""
    parser = argparse.ArgumentParser(
        prog="llmgine stress",
        description=(
            "Chaos stress suite: actor systems under load and faults; nothing"
            " accepted may be lost. Exit status 1 when an invariant broke."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        metavar="NAME",
        help=f"run only this one (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--duration", type=float, help="seconds of load per scenario")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument(
        "--wide",
        action="store_true",
        help="the full table whatever the terminal width (default: fit the terminal)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite from the command line; return the exit code (1 if any broke)."""
    args = build_parser().parse_args(argv)
    console = Console(stderr=args.json)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200  # a CI log: the full table, not one fitted to 80 columns
    names = list(dict.fromkeys(args.scenario)) if args.scenario else list(SCENARIOS)
    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks = {
            name: progress.add_task(name, total=1.0, status="", start=False)
            for name in names
        }

        def on_progress(name: str, fraction: float) -> None:
            task = tasks[name]
            progress.start_task(task)
            progress.update(task, completed=fraction)

        results = []
        for name in names:
            progress.start_task(tasks[name])
            (result,) = run_suite(
                args.quick,
                name,
                args.seed,
                args.duration,
                on_progress=on_progress,
            )
            progress.update(
                tasks[name],
                completed=1.0,
                status="[green]ok[/]" if result.ok else "[bold red]FAILED[/]",
            )
            results.append(result)
    if args.json:
        print(to_json(results))
    else:
        print_summary(results, console, wide=args.wide)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
