"""FaultSchedule and FaultWindow: faults on and off by trio's clock."""

from __future__ import annotations

import math
import re

import pytest
import trio

from llmgine._exceptions import ConfigurationError
from llmgine.testing import FaultSchedule, FaultWindow


def test_window_covers_half_open_interval() -> None:
    window = FaultWindow(start=1.0, end=2.0)
    assert not window.covers(0.999)
    assert window.covers(1.0)
    assert window.covers(1.999)
    assert not window.covers(2.0)


def test_window_defaults_to_forever() -> None:
    window = FaultWindow()
    assert window.start == 0.0
    assert window.end == math.inf
    assert window.covers(1e9)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"start": -1.0}, "'start' must be a number >= 0 (got -1.0)"),
        ({"start": True}, "'start' must be a number >= 0 (got True)"),
        ({"start": math.nan}, "'start' must be a number >= 0"),
        ({"start": 2.0, "end": 1.0}, "'end' must be after 'start' (2.0) (got 1.0)"),
        ({"end": 0.0}, "'end' must be after 'start'"),
        ({"intensity": -0.5}, "'intensity' must be a number >= 0 (got -0.5)"),
        ({"intensity": "x"}, "'intensity' must be a number >= 0 (got 'x')"),
    ],
)
def test_window_validation_says_what_came(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(text)):
        FaultWindow(**kwargs)  # type: ignore[arg-type]


def test_schedule_accepts_one_window_or_many() -> None:
    one = FaultSchedule(windows=FaultWindow(start=1.0, end=2.0))
    assert one.windows == (FaultWindow(start=1.0, end=2.0),)
    many = FaultSchedule(windows=[FaultWindow(end=1.0), FaultWindow(start=3.0)])
    assert len(many.windows) == 2


@pytest.mark.parametrize("windows", [42, [FaultWindow(), "nope"]])
def test_schedule_rejects_other_windows(windows: object) -> None:
    with pytest.raises(ConfigurationError, match="'windows' must be FaultWindows"):
        FaultSchedule(windows=windows)  # type: ignore[arg-type]


def test_explicit_times() -> None:
    schedule = FaultSchedule.between(1.0, 2.0, intensity=0.5)
    schedule.anchor(100.0)
    assert schedule.intensity(100.5) == 0.0
    assert schedule.intensity(101.5) == 0.5
    assert schedule.active(101.0)
    assert not schedule.active(102.0)
    assert schedule.elapsed(103.0) == 3.0
    assert schedule.ends == 2.0


def test_overlapping_windows_take_the_strongest() -> None:
    schedule = FaultSchedule(
        windows=[FaultWindow(end=10.0, intensity=0.2), FaultWindow(start=2.0, end=3.0)]
    )
    schedule.anchor(0.0)
    assert schedule.intensity(1.0) == 0.2
    assert schedule.intensity(2.5) == 1.0


def test_never_is_never_active() -> None:
    schedule = FaultSchedule.never()
    schedule.anchor(0.0)
    assert not schedule.active(0.0)
    assert schedule.ends == 0.0


async def test_follows_the_mock_clock(autojump_clock: trio.testing.MockClock) -> None:
    schedule = FaultSchedule.between(1.0, 2.0)
    schedule.anchor()
    assert not schedule.active()
    await trio.sleep(1.5)
    assert schedule.active()
    await trio.sleep(1.0)
    assert not schedule.active()


async def test_first_query_anchors(autojump_clock: trio.testing.MockClock) -> None:
    schedule = FaultSchedule.between(0.0, 1.0)
    await trio.sleep(5.0)
    assert schedule.origin is None
    assert schedule.active()  # anchored now, so inside [0, 1)
    assert schedule.origin == trio.current_time()
    await trio.sleep(1.0)
    assert not schedule.active()
