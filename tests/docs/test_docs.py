"""Every ```python block of README.md and docs/*.md runs, offline, as written.

Each block is a whole program (imports included) and runs on its own, in a
fresh namespace, in a scratch directory, with no API keys or tracing
variables in the environment. A block fenced as ```python no-run is only
compiled: use it sparingly, for snippets that need a live API key or run
forever (docs/index.md describes the convention).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```", re.S | re.M
)
NO_RUN = "no-run"
_ENVIRONMENT = ("API_KEY", "OTEL_", "LLMGINE_TRACE", "OLLAMA_HOST")


@attrs.frozen
class Block:
    """One python block of one document."""

    path: Path
    line: int
    source: str
    run: bool

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> Iterator[Block]:
    """The python blocks of ``path``, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    for match in FENCE.finditer(text):
        words = match.group("info").split()
        if not words or words[0] not in ("python", "py"):
            continue
        line = text.count("\n", 0, match.start()) + 1
        indent = len(match.group("indent"))
        body = "".join(x[indent:] for x in match.group("body").splitlines(keepends=True))
        yield Block(path, line, body, NO_RUN not in words[1:])


BLOCKS = [block for path in DOCUMENTS if path.exists() for block in blocks(path)]


def test_the_docs_have_runnable_examples() -> None:
    runnable = [b for b in BLOCKS if b.run]
    assert len(runnable) >= 20
    mine = {"architecture.md", "actors.md", "deployment.md", "troubleshooting.md"}
    assert mine <= {b.path.name for b in runnable}
    assert len(runnable) >= 4 * len([b for b in BLOCKS if not b.run])


def test_the_fence_parser(tmp_path: Path) -> None:
    text = (
        "# t\n```python\nprint(1)\n```\n"
        "```python no-run\nboom(\n```\n"
        "```sh\nls\n```\n"
        "- item:\n\n  ```python\n  x = 1\n  ```\n"
    )
    path = tmp_path / "t.md"
    path.write_text(text)
    found = [(b.line, b.source, b.run) for b in blocks(path)]
    assert found == [
        (2, "print(1)\n", True),
        (5, "boom(\n", False),
        (13, "x = 1\n", True),
    ]


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A scratch directory and an environment without keys or tracing settings."""
    import os

    for name in list(os.environ):
        if any(part in name for part in _ENVIRONMENT):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block: Block) -> None:
    # blank lines first, so a traceback's line numbers are the document's
    code = compile("\n" * block.line + block.source, str(block.path), "exec")
    if not block.run:
        return
    exec(code, {"__name__": "__docs__"})
