"""Commands, events and command results as a user builds and reads them."""

from __future__ import annotations

import os

import attrs
import pytest

from llmgine.actors import Priority
from llmgine.bus import (
    BUS,
    Command,
    CommandResult,
    Event,
    SessionEnded,
    SessionStarted,
)
from llmgine.bus._message import describe_error, new_message_id

from .conftest import Add, LoudPing, Ping


def test_messages_get_an_id_a_timestamp_and_bus_defaults() -> None:
    ping = Ping(n=1)
    assert len(ping.id) == 32
    int(ping.id, 16)
    assert ping.timestamp > 1_600_000_000
    assert ping.session_id == BUS == "BUS"
    assert ping.metadata == {}
    assert ping.priority is None
    assert ping.event_id == ping.id
    add = Add(a=1, b=2)
    assert add.command_id == add.id


def test_ids_are_unique_and_ordered_within_a_process() -> None:
    ids = [new_message_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids == sorted(ids)
    assert Ping().id != Ping().id


def test_a_forked_child_draws_ids_from_a_new_prefix() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.write(write, new_message_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert child[:16] != new_message_id()[:16]


def test_messages_are_frozen_values_with_fields_of_their_own() -> None:
    ping = LoudPing(n=2, session_id="s1", metadata={"k": "v"}, priority=Priority.HIGH)
    assert (ping.n, ping.volume, ping.session_id) == (2, 11, "s1")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ping.n = 3  # type: ignore[misc]
    assert attrs.evolve(ping, n=3).id == ping.id
    assert isinstance(ping, Event)
    assert not isinstance(ping, Command)
    assert "metadata={'k': 'v'}" in repr(ping)
    hash(ping)  # hashable despite the metadata mapping


def test_default_metadata_is_shared_but_read_only() -> None:
    with pytest.raises(TypeError):
        Ping().metadata["k"] = "v"  # type: ignore[index]


def test_command_result_reads_like_the_original() -> None:
    ok = CommandResult(True, result=42, command_id="c1", session_id="BUS")
    assert ok.success
    assert ok.result == 42
    assert ok.error is None
    assert CommandResult(success=False).metadata == {}
    with pytest.raises(TypeError):
        CommandResult(True, 42)  # type: ignore[misc]  # only success is positional


def test_a_result_from_an_error_keeps_the_exception_out_of_eq_and_repr() -> None:
    command = Add(a=1, b=2)
    error = ValueError("bad input")
    result = CommandResult.from_error(error, command=command)
    assert result.success is False
    assert result.error == "ValueError: bad input"
    assert result.exception is error
    assert (result.command_id, result.session_id) == (command.id, "BUS")
    assert "exception" not in repr(result)
    assert result == CommandResult.from_error(ValueError("bad input"), command=command)
    assert result != CommandResult.from_error(ValueError("other"), command=command)
    bare = CommandResult.from_error(KeyError())
    assert bare.error == "KeyError"
    assert bare.command_id is None


def test_describe_error_is_short() -> None:
    assert describe_error(RuntimeError("x")) == "RuntimeError: x"
    assert describe_error(RuntimeError()) == "RuntimeError"


def test_session_events() -> None:
    assert SessionStarted(session_id="s").session_id == "s"
    ended = SessionEnded(session_id="s", error="Boom: x")
    assert ended.error == "Boom: x"
    assert SessionEnded().error is None
