"""The turn journal's entries: written as JSON lines, read back, checked."""

from __future__ import annotations

from typing import Any

import pytest

from llmgine._exceptions import EngineError
from llmgine.engines._journal import (
    AwaitingApproval,
    StepReplied,
    ToolFinished,
    ToolStarted,
    TurnOpened,
    TurnState,
    dump_entry,
    load_entry,
)
from llmgine.llm import ToolResultPart, Usage

from .conftest import call, calls, tokens


@pytest.mark.parametrize(
    "entry",
    [
        TurnOpened(text="héllo"),
        StepReplied(
            message=calls(call("c1", "f", a=[1, {"b": None}])).message,
            usage=tokens(3, 4),
        ),
        ToolStarted(index=2),
        ToolFinished(
            index=0, result=ToolResultPart(call_id="c", content="e", is_error=True)
        ),
        ToolFinished(
            index=1, result=ToolResultPart(call_id="c", content="ok", usage=tokens(5, 6))
        ),
        AwaitingApproval(indices=(0, 2)),
    ],
)
def test_journal_entries_round_trip_through_json(entry: Any) -> None:
    line = dump_entry(entry)
    assert "\n" not in line
    assert load_entry(line) == entry


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "cannot be read"),
        ('{"kind":"opened"}', "cannot be read"),
        ('{"kind":"finished","index":0,"result":3}', "cannot be read"),
        ('{"kind":"__import__"}', "unknown kind"),
        ("[]", "cannot be read"),
    ],
)
def test_bad_journal_entries_are_refused(line: str, problem: str) -> None:
    with pytest.raises(EngineError, match=problem):
        load_entry(line)


def test_a_rebuilt_turn_knows_which_calls_still_wait() -> None:
    reply = calls(call("a", "f"), call("b", "g"), call("c", "h")).message
    state = TurnState.rebuild(
        [
            TurnOpened(text="go"),
            StepReplied(message=reply, usage=Usage()),
            ToolFinished(index=0, result=ToolResultPart(call_id="a", content="x")),
            AwaitingApproval(indices=(0, 1, 2, 7)),  # 0 is done, 7 is no call
            ToolStarted(index=1),  # approved and started
        ]
    )
    assert state.awaiting == {2}


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([], "must open"),
        ([ToolStarted(index=0)], "must open"),
        ([TurnOpened(text="a"), TurnOpened(text="b")], "second opening"),
        (
            [
                TurnOpened(text="a"),
                StepReplied(message=calls(call("c1", "f")).message, usage=Usage()),
                StepReplied(message=calls(call("c2", "f")).message, usage=Usage()),
            ],
            "before its tool results",
        ),
    ],
)
def test_inconsistent_journals_are_refused(entries: list[Any], problem: str) -> None:
    with pytest.raises(EngineError, match=problem):
        TurnState.rebuild(entries)
