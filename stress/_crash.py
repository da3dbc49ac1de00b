"""kill -9: child processes write durable state fast and are killed at random moments.

Each round starts a child process (``python -m stress._crash``) that files
dead letters as fast as it can into a :class:`SQLiteDeadLetterStore` and
reports on stdout, every few hundred letters, how many it has filed and when
(``time.monotonic``, one clock for every process on the machine). At a random
moment the parent sends ``SIGKILL``. Then, as a new process would, it opens
the file afresh and checks:

- ``PRAGMA integrity_check`` says ``ok``;
- every letter the child reported filed more than ``flush_interval`` before
  the kill is in the file (letters inside the window may be missing: that is
  the promise, and they are counted apart);
- the newest letters load back through a fresh store as their own class,
  with no row skipped.

Finally a fresh actor system opens the store, takes the letters it holds and
replays them to a worker, as a program recovering from the crash would.

The rounds share one file, so each child also starts on a file the previous
one left behind mid-write. Each kind of durable state is a :class:`Probe`;
more probes (durable chat turns) join :data:`PROBES`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import attrs
import trio

from llmgine.actors import (
    Actor,
    Mailbox,
    Overflow,
    SQLiteDeadLetterStore,
    open_actor_system,
)

from ._run import Run

__all__ = ["Letter", "Probe", "crash"]

FLUSH_INTERVAL = 0.1
_BURST = 256  # letters between two reports


@attrs.frozen(kw_only=True)
class Letter:
    """What the child sends: its round and a number counting up from 0."""

    round: int
    n: int


class _Stuck(Actor):
    """Never finishes its first message, so every later tell is a dead letter."""

    async def receive(self, message: object) -> object:
        await trio.sleep_forever()


# -- the child ---------------------------------------------------------------------


async def _child(db: str, round_: int) -> None:
    store = SQLiteDeadLetterStore(db, flush_interval=FLUSH_INTERVAL)
    async with open_actor_system(
        "crash", tracer=None, dead_letter_store=store, dead_letter_capacity=1000
    ) as system:
        ref = await system.spawn(
            _Stuck,
            name="sink",
            mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST),
        )
        ref.tell_nowait(Letter(round=round_, n=-2))
        await trio.sleep(0.01)  # let it take the first one
        ref.tell_nowait(Letter(round=round_, n=-1))  # the mailbox is full now
        out = sys.stdout
        n = 0
        while True:
            for _ in range(_BURST):
                ref.tell_nowait(Letter(round=round_, n=n))
                n += 1
            out.write(f"{n} {time.monotonic()}\n")
            out.flush()
            await trio.lowlevel.checkpoint()


# -- the parent --------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ProbeResult:
    """What one probe found after one kill."""

    made: int  # units the child reported (letters, turns)
    checked: int  # of those, the ones old enough that they must be there
    lost: int  # checked and missing
    in_window: int  # younger than the window and missing (allowed)
    failures: tuple[str, ...] = ()


class Probe(Protocol):
    """One kind of durable state the child writes and the parent checks."""

    name: str

    def command(self, round_: int) -> list[str]:
        """The child's command line for this round."""

    def report(self, line: str) -> None:
        """Take one line the child printed."""

    def check(self, killed_at: float) -> ProbeResult:
        """Open the state afresh and check it against what was reported."""


class DeadLetterProbe:
    """Dead letters in a SQLite store: present unless filed within the window."""

    name = "letters"

    def __init__(self, db: Path) -> None:
        self.db = db
        self.round = 0
        self.reports: list[tuple[int, float]] = []
        self.first_id = 0

    def command(self, round_: int) -> list[str]:
        self.round = round_
        self.reports = []
        self.first_id = self._last_id()
        return [sys.executable, "-c", _CHILD, str(self.db), str(round_)]

    def report(self, line: str) -> None:
        count, at = line.split()
        self.reports.append((int(count), float(at)))

    def _last_id(self) -> int:
        if not self.db.exists():
            return 0
        conn = sqlite3.connect(self.db)
        try:
            (last,) = conn.execute(
                "SELECT coalesce(max(id), 0) FROM dead_letters"
            ).fetchone()
        finally:
            conn.close()
        return int(last)

    def check(self, killed_at: float) -> ProbeResult:
        failures = []
        conn = sqlite3.connect(self.db)
        try:
            (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
            rows = conn.execute(
                "SELECT message FROM dead_letters WHERE id > ?", (self.first_id,)
            ).fetchall()
        finally:
            conn.close()
        if integrity != "ok":
            failures.append(f"integrity_check says {integrity!r}")
        present = set()
        for (text,) in rows:
            data = json.loads(text)["data"]
            if data["round"] == self.round and data["n"] >= 0:
                present.add(data["n"])
        made = max((n for n, _ in self.reports), default=0)
        due = max(
            (n for n, at in self.reports if at <= killed_at - FLUSH_INTERVAL), default=0
        )
        lost = sum(1 for n in range(due) if n not in present)
        in_window = sum(1 for n in range(due, made) if n not in present)
        store = SQLiteDeadLetterStore(self.db)
        try:
            letters, _ = store.load(1000)
        finally:
            store.close()
        if store.skipped:
            failures.append(f"{store.skipped} stored letters could not be read back")
        if not all(isinstance(x.message, Letter) for x in letters):
            failures.append("stored letters came back as placeholders")
        return ProbeResult(
            made=made,
            checked=due,
            lost=lost,
            in_window=in_window,
            failures=tuple(failures),
        )


# Durable chat turns (killed mid-turn, resumed with every finished tool run
# exactly once) run in rounds of their own: see crash_turns below.
PROBES: tuple[type[DeadLetterProbe], ...] = (DeadLetterProbe,)


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else f"{root}{os.pathsep}{path}"}


async def _kill_once(run: Run, probe: DeadLetterProbe, round_: int) -> ProbeResult:
    """Start a child, kill it at a random moment, check what it left."""
    lifetime = run.rng.uniform(*run.pick((0.05, 0.2), (0.05, 0.6), (0.02, 1.5)))
    process = await trio.lowlevel.open_process(
        probe.command(round_), stdout=subprocess.PIPE, env=_child_env()
    )
    try:
        assert process.stdout is not None
        buffer = b""
        started = False
        deadline = killed_at = 0.0
        with trio.move_on_after(30) as timeout:
            while True:
                if started and trio.current_time() >= deadline:
                    killed_at = time.monotonic()
                    process.kill()  # SIGKILL
                    break
                chunk = await process.stdout.receive_some(65536)
                if not chunk:
                    break  # the child died on its own
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    probe.report(line.decode())
                if not started and probe.reports:
                    started = True
                    deadline = trio.current_time() + lifetime
            # whatever it printed before it died
            async for chunk in process.stdout:
                buffer += chunk
        for line in buffer.split(b"\n"):
            if line.strip():
                probe.report(line.decode())
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
            assert process.stdout is not None
            await process.stdout.aclose()
    if timeout.cancelled_caught or not killed_at:
        run.failures.append(
            f"round {round_}: the child ended by itself ({process.returncode})"
        )
        killed_at = time.monotonic()
    return probe.check(killed_at)


async def _replay(run: Run, db: Path) -> int:
    """Open the store in a fresh system and replay the letters it holds."""
    async with run.system(
        "replay",
        dead_letter_store=SQLiteDeadLetterStore(db, flush_interval=FLUSH_INTERVAL),
    ) as system:
        worker = await run.spawn_worker(system, "worker", mailbox=Mailbox(capacity=64))
        letters = await system.dead_letters.drain()
        for letter in letters:
            await run.door.tell(worker, letter.message)
        await system.wait_until_idle()
    return len(letters)


async def crash(run: Run) -> None:
    """kill -9 children filing dead letters fast: the file intact, no letter lost."""
    kills = run.pick(1, 3, 24)
    run.expected_duration = kills * 0.8
    totals: dict[str, Any] = dict.fromkeys(
        ("kills", "letters", "checked", "lost_letters", "in_window", "replayed"), 0
    )
    run.extra.update(actors=1, flush_interval=FLUSH_INTERVAL)
    with tempfile.TemporaryDirectory(prefix="llmgine-crash-") as tmp:
        db = Path(tmp) / "dead_letters.sqlite"
        probe = DeadLetterProbe(db)
        for round_ in range(kills):
            result = await _kill_once(run, probe, round_)
            totals["kills"] += 1
            totals["letters"] += result.made
            totals["checked"] += result.checked
            totals["lost_letters"] += result.lost
            totals["in_window"] += result.in_window
            for failure in result.failures:
                run.failures.append(f"round {round_}: {failure}")
            if result.lost:
                run.failures.append(
                    f"round {round_}: {result.lost} of {result.checked} letters filed"
                    f" over {FLUSH_INTERVAL}s before the kill are missing"
                )
            totals["replayed"] += await _replay(run, db)
            if run.on_progress is not None:
                run.on_progress((round_ + 1) / kills)
    totals.update(await crash_turns(run, kills))  # durable turns: their own rounds
    run.extra.update(totals)
    run.expect(totals["kills"] == kills, f"{totals['kills']} of {kills} kills done")


def child_main() -> None:
    """The child process: ``python -c _CHILD <db> <round>``."""
    trio.run(_child, sys.argv[1], int(sys.argv[2]))


# The child imports this module under the parent's name (letters are pickled by
# class path): ``stress`` run from a checkout, else ``llmgine._stress`` (the
# command's name for the suite, in a wheel or a checkout), found by its locator.
_CHILD = (
    "from stress._crash import child_main; child_main()"
    if __package__ == "stress"
    else "from llmgine.cli._suite import import_suite;"
    " import_suite('_crash').child_main()"
)


# -- durable chat turns ------------------------------------------------------------
# Kept apart from the dead-letter rounds above: a child runs durable chat turns
# (each charges an order with a tool that is not idempotent) and is killed at a
# random moment; the parent resumes the unfinished turn as a new process would
# and checks that no finished tool run happened twice and no turn was lost.


class _ShopModel:
    """A local model: asks to charge the order the user names, then says done."""

    name = "shop-model"

    async def complete(self, request: Any) -> Any:
        from llmgine.llm import LLMResponse, Message, Role, ToolCallPart

        last = request.messages[-1]
        if last.role is Role.USER:
            call = ToolCallPart(id="c1", name="charge", arguments={"order": last.text})
            return LLMResponse(message=Message(role=Role.ASSISTANT, parts=[call]))
        return LLMResponse(message=Message.assistant("done"))


def _shop_engine(db: Path, runs: Path) -> Any:
    from llmgine.engines import ChatEngine, Conversation, SQLiteConversationStore
    from llmgine.tools import tool

    @tool
    def charge(order: str) -> str:
        """Charge an order (every run is one line of the runs file).

        Args:
            order: The order.
        """
        with open(runs, "a", encoding="utf-8") as file:
            file.write(order + "\n")
        return f"charged {order}"

    conversation = Conversation("shop", store=SQLiteConversationStore(db))
    return ChatEngine(
        _ShopModel(), model="m", tools=[charge], conversation=conversation, durable=True
    )


async def _turn_child(db: str, runs: str, round_: int) -> None:
    from llmgine.engines import ResumeTurn, UserInput

    engine = _shop_engine(Path(db), Path(runs))
    await engine.on_start()
    if engine.unfinished is not None:
        await engine.receive(ResumeTurn())
    out = sys.stdout
    done = 0

    async def heartbeat() -> None:
        # reports between turns too, so the parent's kill (sent as it reads a
        # report) lands anywhere in a turn, not only at its end
        while True:
            out.write(f"{done} {time.monotonic()}\n")
            out.flush()
            await trio.sleep(0.001)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(heartbeat)
        while True:
            await engine.receive(UserInput(f"order {round_}-{done}"))
            done += 1


def turn_child_main() -> None:
    """The turn child: ``python -c _TURN_CHILD <db> <runs> <round>``."""
    trio.run(_turn_child, sys.argv[1], sys.argv[2], int(sys.argv[3]))


class TurnProbe:
    """Durable turns: every turn reported done is stored, no charge made twice."""

    name = "turns"

    def __init__(self, db: Path, runs: Path) -> None:
        self.db = db
        self.runs = runs
        self.round = 0
        self.done = 0
        self.reports: list[tuple[int, float]] = []  # (turns done, when)

    def command(self, round_: int) -> list[str]:
        self.round = round_
        self.done = 0
        self.reports = []
        return [
            sys.executable,
            "-c",
            _TURN_CHILD,
            str(self.db),
            str(self.runs),
            str(round_),
        ]

    def report(self, line: str) -> None:
        count, at = line.split()
        self.reports.append((int(count), float(at)))
        self.done = max(self.done, int(count))

    def _charges(self) -> list[str]:
        if not self.runs.exists():
            return []
        return self.runs.read_text(encoding="utf-8").splitlines()

    def check(self, killed_at: float) -> ProbeResult:
        failures = []
        conn = sqlite3.connect(self.db)
        try:
            (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
            rows = conn.execute(
                "SELECT body FROM llmgine_messages WHERE role = 'user'"
            ).fetchall()
        finally:
            conn.close()
        if integrity != "ok":
            failures.append(f"integrity_check says {integrity!r}")
        stored = {json.loads(body)["parts"][0]["text"] for (body,) in rows}
        missing = sum(
            1 for n in range(self.done) if f"order {self.round}-{n}" not in stored
        )
        return ProbeResult(
            made=self.done,
            checked=self.done,
            lost=missing,
            in_window=0,
            failures=tuple(failures),
        )

    async def resume(self) -> tuple[int, list[str]]:
        """Resume the unfinished turn (if any); return 1 if one was, and problems."""
        from llmgine.engines import ChatResult, ResumeTurn
        from llmgine.llm import Role

        engine = _shop_engine(self.db, self.runs)
        await engine.on_start()
        resumed = 0
        problems = []
        if engine.unfinished is not None:
            result = await engine.receive(ResumeTurn())
            if not isinstance(result, ChatResult):
                problems.append(f"the turn did not resume: {result!r}")
            resumed = 1
        charges = self._charges()
        twice = sorted({c for c in charges if charges.count(c) > 1})
        if twice:
            problems.append(f"charged more than once: {twice[:5]}")
        results = [
            part.content
            for message in engine.conversation.messages
            if message.role is Role.TOOL
            for part in message.parts
        ]
        finished = [
            r.removeprefix("charged ") for r in results if r.startswith("charged")
        ]
        unrun = [order for order in finished if order not in charges]
        if unrun:
            problems.append(f"finished charges missing from the runs: {unrun[:5]}")
        return resumed, problems


async def crash_turns(run: Run, kills: int) -> dict[str, int]:
    """Kill children running durable turns ``kills`` times; resume after each."""
    totals = dict.fromkeys(("turn_kills", "turns", "turns_lost", "resumed"), 0)
    with tempfile.TemporaryDirectory(prefix="llmgine-turns-") as tmp:
        probe = TurnProbe(Path(tmp) / "chat.sqlite", Path(tmp) / "charges.txt")
        for round_ in range(kills):
            result = await _kill_once(run, probe, round_)  # type: ignore[arg-type]
            resumed, problems = await probe.resume()
            totals["turn_kills"] += 1
            totals["turns"] += result.made
            totals["turns_lost"] += result.lost
            totals["resumed"] += resumed
            for problem in (*result.failures, *problems):
                run.failures.append(f"turn round {round_}: {problem}")
            if result.lost:
                run.failures.append(
                    f"turn round {round_}: {result.lost} of {result.made} finished"
                    " turns are missing"
                )
    return totals


_TURN_CHILD = (
    "from stress._crash import turn_child_main; turn_child_main()"
    if __package__ == "stress"
    else "from llmgine.cli._suite import import_suite;"
    " import_suite('_crash').turn_child_main()"
)
