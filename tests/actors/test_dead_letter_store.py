"""The SQLite dead-letter store: data not code, placeholders, scrubbing, the writer."""

from __future__ import annotations

import dataclasses
import datetime
import json
import pickle
import sqlite3
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError, LLMgineError
from llmgine._secrets import register_secret
from llmgine.actors import (
    Actor,
    DeadLetter,
    DeadLetterReason,
    SQLiteDeadLetterStore,
    StoredError,
    StoredMessage,
    open_actor_system,
)
from llmgine.actors._letter_codec import decode_message, encode_message, make_converter

FAILED = DeadLetterReason.HANDLER_FAILED


@attrs.frozen(kw_only=True)
class Refund:
    order: int
    amount: float
    when: datetime.datetime
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Ping:
    n: int
    tags: tuple[str, ...] = ()


@attrs.frozen
class Box:
    item: Refund


class KeywordOnlyError(Exception):
    """An exception that cannot be rebuilt from its args (pickle fails on it)."""

    def __init__(self, *, code: int) -> None:
        super().__init__(f"code {code}")
        self.code = code


def letter(message: object, error: BaseException | None = None) -> DeadLetter:
    return DeadLetter(message=message, recipient="/app/a", reason=FAILED, error=error)


def roundtrip(tmp_path: Path, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    store = SQLiteDeadLetterStore(tmp_path / "dead.db")
    rows = []
    for n, x in enumerate(letters, 1):
        object.__setattr__(x, "id", n)
        rows.append(store.encode(x))
    store.write(rows, [])
    store.close()
    fresh = SQLiteDeadLetterStore(tmp_path / "dead.db")
    loaded, _ = fresh.load(1000)
    fresh.close()
    return loaded


def test_messages_and_errors_come_back_as_data(tmp_path: Path) -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    messages: list[object] = [
        Refund(order=1, amount=9.5, when=when, note="late"),
        Ping(3, ("a", "b")),
        Box(Refund(order=2, amount=1.0, when=when)),
        "text",
        42,
        1.5,
        None,
        True,
    ]
    loaded = roundtrip(tmp_path, [letter(m, ValueError("bad")) for m in messages])
    assert [x.message for x in loaded] == messages
    assert [type(x.message) for x in loaded] == [type(m) for m in messages]
    error = loaded[0].error
    assert isinstance(error, StoredError)
    assert isinstance(error, LLMgineError)
    assert (error.type, error.message, str(error)) == (
        "ValueError",
        "bad",
        "ValueError: bad",
    )
    assert loaded[0].recipient == "/app/a"
    assert loaded[0].reason is FAILED


def test_anything_else_is_stored_by_its_repr(tmp_path: Path) -> None:
    class Local:
        def __repr__(self) -> str:
            return "<Local>"

    class NoRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    loaded = roundtrip(tmp_path, [letter(Local()), letter(NoRepr()), letter({"a": 1})])
    assert [x.message for x in loaded] == [
        StoredMessage(type=f"{__name__}.{Local.__qualname__}", data="<Local>"),
        StoredMessage(
            type=f"{__name__}.{NoRepr.__qualname__}",
            data=f"<unrepresentable {__name__}.{NoRepr.__qualname__}>",
        ),
        StoredMessage(type="dict", data="{'a': 1}"),
    ]


def test_a_field_that_is_not_data_keeps_the_letter_readable(tmp_path: Path) -> None:
    @attrs.frozen
    class Holder:
        thing: Any
        items: frozenset[int]

    cyclic: list[object] = []
    cyclic.append(cyclic)
    loaded = roundtrip(
        tmp_path,
        [letter(Holder(object(), frozenset({1}))), letter(Holder(cyclic, frozenset()))],
    )
    first, second = (x.message for x in loaded)
    # a local class is not reachable by name: its fields come back as data
    assert isinstance(first, StoredMessage)
    assert first.data["thing"].startswith("<object object")
    assert first.data["items"] == [1]
    assert isinstance(second, StoredMessage)
    assert isinstance(second.data, str)  # kept by its repr


def test_a_keyword_only_exception_is_stored(tmp_path: Path) -> None:
    [loaded] = roundtrip(tmp_path, [letter("m", KeywordOnlyError(code=7))])
    assert isinstance(loaded.error, StoredError)
    assert loaded.error.type == f"{__name__}.KeywordOnlyError"
    assert loaded.error.message == "code 7"
    # the placeholder itself survives pickling (Ray nodes pickle errors)
    assert str(pickle.loads(pickle.dumps(loaded.error))) == str(loaded.error)


@pytest.fixture
def vanishing_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType("llmgine_test_orders")

    @attrs.frozen
    class OrderPlaced:
        order: int

    OrderPlaced.__module__ = module.__name__
    OrderPlaced.__qualname__ = "OrderPlaced"
    module.OrderPlaced = OrderPlaced  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    sys.modules.pop(module.__name__, None)


async def test_a_letter_whose_class_is_gone_comes_back_as_a_placeholder(
    tmp_path: Path, vanishing_module: types.ModuleType
) -> None:
    db = tmp_path / "dead.db"
    placed = vanishing_module.OrderPlaced(order=5)
    async with open_actor_system("app", dead_letter_store=SQLiteDeadLetterStore(db)) as s:
        s.dead_letters.add(letter(placed, RuntimeError("down")))
        s.dead_letters.add(letter(Ping(1)))
    # its module is imported: it is rebuilt
    assert [x.message for x in roundtrip_load(db)] == [placed, Ping(1)]

    del sys.modules["llmgine_test_orders"]  # the next process never imported it
    async with open_actor_system("app", dead_letter_store=SQLiteDeadLetterStore(db)) as s:

        class Sink(Actor):
            async def receive(self, message: object) -> None:
                got.append(message)

        got: list[object] = []
        await s.spawn(Sink, name="a")
        held = s.dead_letters.list()
        assert held[0].message == StoredMessage(
            type="llmgine_test_orders.OrderPlaced", data={"order": 5}
        )
        assert str(held[0].error) == "RuntimeError: down"
        # redelivery sends what it can rebuild and keeps the placeholder
        assert await s.dead_letters.redeliver() == 1
        await s.wait_until_idle()
        assert got == [Ping(1)]
        assert [x.message for x in s.dead_letters.list()] == [held[0].message]
    assert "llmgine_test_orders" not in sys.modules


def test_a_class_whose_fields_changed_comes_back_as_a_placeholder(tmp_path: Path) -> None:
    db = tmp_path / "dead.db"
    store = SQLiteDeadLetterStore(db)
    row = list(store.encode(letter(Ping(1))))
    row[0] = 1
    row[4] = json.dumps(
        {"kind": "dataclass", "module": __name__, "qualname": "Ping", "data": {"x": 1}}
    )
    store.write([tuple(row)], [])
    [loaded] = roundtrip_load(db)
    assert loaded.message == StoredMessage(type=f"{__name__}.Ping", data={"x": 1})


def roundtrip_load(db: Path) -> list[DeadLetter]:
    store = SQLiteDeadLetterStore(db)
    try:
        return store.load(1000)[0]
    finally:
        store.close()


def test_loading_never_imports_or_runs_what_the_file_names(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "llmgine_test_trap.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "import attrs\n"
        "@attrs.frozen\n"
        "class Trap:\n"
        "    x: int\n"
    )

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    db = tmp_path / "dead.db"
    store = SQLiteDeadLetterStore(db)
    good = store.encode(letter(Ping(2)))
    trap = {
        "kind": "attrs",
        "module": "llmgine_test_trap",
        "qualname": "Trap",
        "data": {"x": 1},
    }
    rows: list[tuple[object, ...]] = [
        (1, "/app/a", "handler_failed", 1.0, pickle.dumps(Evil()), None),
        (2, "/app/a", "handler_failed", 1.0, "{not json", None),
        (3, "/app/a", "no_such_reason", 1.0, good[4], None),
        (4, "/app/a", "handler_failed", 1.0, good[4], pickle.dumps(ValueError("x"))),
        (5, "/app/a", "handler_failed", 1.0, json.dumps(trap), None),
        (6, "/app/a", "handler_failed", 1.0, "[" * 100_000, None),
        (7, "/app/a", "handler_failed", "soon", good[4], None),
        (
            8,
            "/app/a",
            "handler_failed",
            1.0,
            json.dumps({"kind": "json", "data": [1]}),
            None,
        ),
        (9, "/app/a", "handler_failed", 1.0, good[4], None),
    ]
    store.write(rows, [])
    store.close()
    sys.path.insert(0, str(package))
    try:
        fresh = SQLiteDeadLetterStore(db)
        loaded, last = fresh.load(1000)
    finally:
        sys.path.remove(str(package))
    assert not marker.exists()
    assert "llmgine_test_trap" not in sys.modules
    assert fresh.skipped == 7
    assert last == 9
    assert [(x.id, x.message) for x in loaded] == [
        (5, StoredMessage(type="llmgine_test_trap.Trap", data={"x": 1})),
        (9, Ping(2)),
    ]
    fresh.close()


async def test_unreadable_rows_never_block_a_start(tmp_path: Path) -> None:
    db = tmp_path / "dead.db"
    store = SQLiteDeadLetterStore(db)
    store.write([(1, "/app/a", "handler_failed", 1.0, b"\x80\x04garbage", None)], [])
    store.close()
    async with open_actor_system("app", dead_letter_store=SQLiteDeadLetterStore(db)) as s:
        assert s.dead_letters.list() == []
        assert s.dead_letters.statistics().skipped == 1
        s.dead_letters.add(letter("new"))
    # the unreadable row stays in the file; the new letter is stored after it
    assert [x.message for x in roundtrip_load(db)] == ["new"]


def test_secrets_are_scrubbed_before_anything_is_written(tmp_path: Path) -> None:
    secret = "sk-test-0123456789abcdefghij-echoed"
    register_secret(secret)
    db = tmp_path / "dead.db"
    store = SQLiteDeadLetterStore(db)
    letters = [
        letter(Refund(order=1, amount=1.0, when=datetime.datetime.now(), note=secret)),
        letter(f"key={secret}", RuntimeError(f"401: your key {secret} is wrong")),
        letter({"authorization": f"Bearer {secret}"}),
    ]
    rows = []
    for n, x in enumerate(letters, 1):
        object.__setattr__(x, "id", n)
        rows.append(store.encode(x))
    store.write(rows, [])
    store.close()
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in written
    loaded = roundtrip_load(db)
    assert "[REDACTED]" in loaded[0].message.note
    assert "[REDACTED]" in str(loaded[1].error)


@pytest.mark.parametrize("interval", [0, -1.0, float("nan"), float("inf"), "1", True])
def test_flush_interval_must_be_positive(tmp_path: Path, interval: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        SQLiteDeadLetterStore(tmp_path / "x.db", flush_interval=interval)
    assert str(info.value) == (
        f"'flush_interval' must be a positive number of seconds (got {interval!r})"
    )


async def test_a_file_that_is_not_a_database_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    db = tmp_path / "dead.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigurationError, match="SQLite dead-letter file"):
        async with open_actor_system("app", dead_letter_store=SQLiteDeadLetterStore(db)):
            pass  # pragma: no cover


async def test_the_writer_stores_letters_while_the_system_runs(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    db = tmp_path / "dead.db"
    store = SQLiteDeadLetterStore(db, flush_interval=0.2)
    async with open_actor_system("app", dead_letter_store=store) as system:
        office = system.dead_letters
        for n in range(500):
            office.add(letter(n))
        await wait_written(office)
        assert count_rows(db) == 500
        await office.drain()
        await office.flush()  # at once, without waiting for the writer
        assert office.statistics().pending == 0
        assert count_rows(db) == 0
        assert repr(store) == f"<SQLiteDeadLetterStore {str(db)!r}>"


async def wait_written(office: Any) -> None:
    # The writer works in a thread; virtual time passes while it does.
    for _ in range(100_000):
        if office.statistics().pending == 0:
            return
        await trio.sleep(0.01)
    raise AssertionError("the writer never wrote")  # pragma: no cover


def count_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    conn.close()
    return int(n)


class FlakyStore(SQLiteDeadLetterStore):
    """Fails its first writes, as a locked or full disk would."""

    failures = 2

    def write(self, rows: Sequence[Any], deleted: Sequence[int]) -> None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        super().write(rows, deleted)


async def test_a_failed_write_is_retried(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, caplog: Any
) -> None:
    db = tmp_path / "dead.db"
    async with open_actor_system("app", dead_letter_store=FlakyStore(db)) as system:
        system.dead_letters.add(letter("a"))
        await wait_written(system.dead_letters)
        assert system.dead_letters.statistics().write_errors == 2
    assert "retrying" in caplog.text
    assert [x.message for x in roundtrip_load(db)] == ["a"]


async def test_a_write_that_fails_at_exit_is_reported(
    tmp_path: Path, caplog: Any
) -> None:
    db = tmp_path / "dead.db"
    store = FlakyStore(db)
    store.failures = 10
    async with open_actor_system("app", dead_letter_store=store) as system:
        system.dead_letters.add(letter("a"))
    assert "1 dead letters could not be written" in caplog.text
    assert system.dead_letters.statistics().pending == 1


def test_the_converter_is_private_and_round_trips() -> None:
    converter = make_converter()
    text = encode_message(converter, Ping(1, ("x",)))
    assert json.loads(text)["kind"] == "dataclass"
    assert decode_message(converter, text) == Ping(1, ("x",))
    raw = encode_message(converter, b"\x00\x01")
    assert decode_message(converter, raw) == StoredMessage(
        type="bytes", data="b'\\x00\\x01'"
    )


@attrs.frozen
class Blob:
    raw: bytes
    day: datetime.date
    nested: Any = None
    table: Any = None


class BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_odd_values_are_stored_without_raising(tmp_path: Path) -> None:
    deep: list[Any] = []
    for _ in range(150):
        deep = [deep]
    messages = [
        Blob(b"\x00\xff", datetime.date(2026, 1, 2)),
        Blob(b"", datetime.date(2026, 1, 2), nested=deep),
        Blob(b"", datetime.date(2026, 1, 2), table={(1, 2): "x"}),
    ]
    first, second, third = roundtrip(tmp_path, [letter(m, BadStr()) for m in messages])
    assert first.message == messages[0]
    assert "[REDACTED]" in json.dumps(second.message.nested)  # cut at depth 100
    assert isinstance(third.message, StoredMessage)
    assert third.message.data.startswith("Blob(raw=b''")  # kept by its repr
    assert isinstance(first.error, StoredError)
    assert first.error.type == f"{__name__}.BadStr"


@pytest.mark.parametrize(
    "data",
    [
        {"raw": 1, "day": "2026-01-02"},
        {"raw": "00", "day": 5},
        {"raw": "zz", "day": "2026-01-02"},
    ],
)
def test_fields_that_do_not_structure_give_a_placeholder(data: dict[str, Any]) -> None:
    converter = make_converter()
    text = json.dumps(
        {"kind": "attrs", "module": __name__, "qualname": "Blob", "data": data}
    )
    assert decode_message(converter, text) == StoredMessage(
        type=f"{__name__}.Blob", data=data
    )


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ('"a"', None),
        (json.dumps({"kind": "pickle", "module": "m", "qualname": "q", "data": 1}), None),
        (json.dumps({"kind": "json", "data": 1}), "[1]"),
        (json.dumps({"kind": "json", "data": 1}), '{"type": "E"}'),
    ],
)
def test_rows_of_the_wrong_shape_are_skipped(
    tmp_path: Path, message: str, error: str | None
) -> None:
    store = SQLiteDeadLetterStore(tmp_path / "dead.db")
    store.write([(1, "/a", "handler_failed", 1.0, message, error)], [])
    assert store.load(10) == ([], 1)
    assert store.skipped == 1
    store.close()


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    store = SQLiteDeadLetterStore(tmp_path / "dead.db")
    good = store.encode(letter("a"))
    store.write([(1, *good[1:])], [])
    with pytest.raises(sqlite3.IntegrityError):
        store.write([(2, *good[1:]), (3, None, "x", 1.0, "{}", None)], [])
    assert [x.id for x in store.load(10)[0]] == [1]
    store.close()


def test_many_distinct_texts_keep_the_memory_of_clean_texts_bounded() -> None:
    from llmgine.actors import _letter_codec

    for n in range(5000):
        _letter_codec.scrub_text(f"t{n}")
    assert len(_letter_codec._clean_texts) <= 4096


async def test_on_letter_sees_every_letter() -> None:
    from llmgine.actors import DeadLetters

    seen: list[DeadLetter] = []
    office = DeadLetters(capacity=2, on_letter=seen.append)
    for n in range(3):
        office.add(letter(n))
    assert [x.message for x in seen] == [0, 1, 2]
    assert office.capacity == 2
    assert [x.id for x in seen] == [1, 2, 3]


class CountingStore(SQLiteDeadLetterStore):
    """Counts checkpoints; the first one fails, as a busy reader would make it."""

    checkpoints = 0

    def checkpoint(self) -> None:
        self.checkpoints += 1
        if self.checkpoints == 1:
            raise sqlite3.OperationalError("database is locked")
        super().checkpoint()


async def test_the_log_is_checkpointed_off_the_event_loop(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    db = tmp_path / "dead.db"
    store = CountingStore(db)
    async with open_actor_system("app", dead_letter_store=store) as system:
        for round_ in range(3):
            system.dead_letters.add(letter(round_))
            await trio.sleep(1.5)
            await wait_written(system.dead_letters)
        for _ in range(1000):
            if store.checkpoints >= 2:
                break
            await trio.sleep(0.1)
        assert store.checkpoints >= 2  # one failed, the next caught up
    assert [x.message for x in roundtrip_load(db)] == [0, 1, 2]
