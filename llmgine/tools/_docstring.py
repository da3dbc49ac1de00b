"""A small parser for Google-style docstrings.

Tools take their description and their parameters' descriptions from the
function's docstring::

    Get the current weather.

    Longer text the model does not need to see.

    Args:
        city: City name, continued
            on an indented line.
        unit (str): Temperature unit.

    Returns:
        The weather as text.

The parser reads the text line by line: a line at the left margin that names a
known section and ends with a colon opens that section; the section holds the
lines indented below it. Entry sections (``Args``, ``Attributes``, ``Raises``,
...) hold one entry per line at their own margin, ``name (type): text``, with
deeper-indented continuation lines.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence

import attrs

__all__ = ["DocEntry", "Docstring", "parse_docstring"]

#: Section titles whose body is a list of ``name (type): text`` entries, by the
#: canonical name the parser files them under.
_ENTRY_SECTIONS = {
    "args": "args",
    "arguments": "args",
    "parameters": "args",
    "params": "args",
    "keyword args": "args",
    "keyword arguments": "args",
    "other parameters": "args",
    "attributes": "attributes",
    "raises": "raises",
    "exceptions": "raises",
}
#: Section titles whose body is free text.
_TEXT_SECTIONS = {
    "returns": "returns",
    "return": "returns",
    "yields": "yields",
    "yield": "yields",
    "example": "examples",
    "examples": "examples",
    "note": "notes",
    "notes": "notes",
    "warning": "warnings",
    "warnings": "warnings",
    "see also": "see also",
    "todo": "todo",
}


@attrs.frozen(kw_only=True)
class DocEntry:
    """One ``name (type): text`` entry of an entry section."""

    name: str
    type: str | None = None
    description: str = ""


@attrs.frozen(kw_only=True)
class Docstring:
    """A parsed docstring.

    ``summary`` is the first paragraph on one line; ``body`` the rest of the text
    before the first section; ``entries`` maps ``"args"``, ``"attributes"`` and
    ``"raises"`` to their entries; ``sections`` maps the other section names
    (``"returns"``, ``"examples"``, ...) to their dedented text.
    """

    summary: str = ""
    body: str = ""
    entries: Mapping[str, Sequence[DocEntry]] = attrs.field(factory=dict)
    sections: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def args(self) -> Mapping[str, str]:
        """Parameter name -> description, from ``Args:`` and its synonyms."""
        return {e.name: e.description for e in self.entries.get("args", ())}

    @property
    def attributes(self) -> Mapping[str, str]:
        """Attribute name -> description, from ``Attributes:`` (for classes)."""
        return {e.name: e.description for e in self.entries.get("attributes", ())}


def parse_docstring(doc: str | None) -> Docstring:
    """Parse a Google-style docstring; ``None`` or ``""`` gives an empty one."""
    if not doc or not doc.strip():
        return Docstring()
    preamble: list[str] = []
    entries: dict[str, list[DocEntry]] = {}
    sections: dict[str, str] = {}
    lines = inspect.cleandoc(doc).splitlines()
    if _section_title(lines[0]) is not None and not any(map(_section_title, lines[1:])):
        # cleandoc measured the margin without the first line, so a section
        # opened there has its body at the margin: push it back under the title.
        lines[1:] = [f"    {line}" if line else line for line in lines[1:]]
    for title, run in _split_sections(lines):
        if title is None:
            preamble.extend(run)
        elif title in _ENTRY_SECTIONS.values():
            entries.setdefault(title, []).extend(_parse_entries(run))
        else:
            text = _join_paragraphs(_dedent(run), sep="\n")
            earlier = sections.get(title)
            sections[title] = f"{earlier}\n\n{text}" if earlier else text
    paragraphs = _paragraphs(preamble)
    summary = " ".join(paragraphs[0]) if paragraphs else ""
    body = "\n\n".join("\n".join(p) for p in paragraphs[1:])
    return Docstring(summary=summary, body=body, entries=entries, sections=sections)


def _section_title(line: str) -> str | None:
    """The canonical section name if ``line`` opens a section, else None."""
    if not line or line[0].isspace() or not line.endswith(":"):
        return None
    key = " ".join(line[:-1].split()).lower()
    return _ENTRY_SECTIONS.get(key) or _TEXT_SECTIONS.get(key)


def _split_sections(lines: list[str]) -> Iterator[tuple[str | None, list[str]]]:
    """Yield ``(title, lines)`` runs; ``None`` is text outside any section.

    A section ends at the next line at the left margin; if that line opens no
    section it is free text again.
    """
    title: str | None = None
    run: list[str] = []
    for line in lines:
        at_margin = bool(line) and not line[0].isspace()
        if at_margin and (opened := _section_title(line)) is not None:
            yield title, run
            title, run = opened, []
        elif at_margin and title is not None:
            yield title, run
            title, run = None, [line]
        else:
            run.append(line)
    yield title, run


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _dedent(lines: list[str]) -> list[str]:
    margin = min((_indent(line) for line in lines if line.strip()), default=0)
    return [line[margin:].rstrip() if line.strip() else "" for line in lines]


def _paragraphs(lines: list[str]) -> list[list[str]]:
    """Group stripped non-blank lines into paragraphs separated by blank lines."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _join_paragraphs(lines: list[str], *, sep: str = " ") -> str:
    return "\n\n".join(sep.join(p) for p in _paragraphs(lines))


def _parse_entries(lines: list[str]) -> list[DocEntry]:
    """Entries start at the section's margin; deeper lines continue the entry."""
    heads: list[tuple[str, list[str]]] = []
    for line in _dedent(lines):
        if line and not line[0].isspace():
            heads.append((line, []))
        elif heads:
            heads[-1][1].append(line)
    entries = []
    for head, continuation in heads:
        name, type_, first = _split_head(head)
        text = _join_paragraphs([first, *continuation])
        entries.append(DocEntry(name=name, type=type_, description=text))
    return entries


def _split_head(head: str) -> tuple[str, str | None, str]:
    """Split ``name (type): text`` into its three parts.

    The colon that ends the head is the first one outside brackets, so types
    like ``dict(str, int)`` or ``Literal['a:b']`` stay whole.
    """
    depth = 0
    colon = len(head)
    for i, char in enumerate(head):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == ":" and depth == 0:
            colon = i
            break
    name_part, text = head[:colon].strip(), head[colon + 1 :].strip()
    type_: str | None = None
    if name_part.endswith(")") and "(" in name_part:
        open_at = name_part.index("(")
        type_ = name_part[open_at + 1 : -1].strip() or None
        name_part = name_part[:open_at].strip()
    return name_part.lstrip("*"), type_, text
