"""The Google-style docstring parser tools take their descriptions from."""

from __future__ import annotations

from llmgine.tools._docstring import DocEntry, Docstring, parse_docstring


def test_empty_and_missing_docstrings_parse_to_nothing() -> None:
    for doc in (None, "", "   \n  "):
        parsed = parse_docstring(doc)
        assert parsed == Docstring()
        assert parsed.args == {}


def test_summary_is_the_first_paragraph_joined_on_one_line() -> None:
    parsed = parse_docstring(
        """Get the current
        weather for a city.

        The model does not need
        this part.

        Nor this one.
        """
    )
    assert parsed.summary == "Get the current weather for a city."
    assert parsed.body == "The model does not need\nthis part.\n\nNor this one."


def test_args_with_types_and_indented_continuations() -> None:
    parsed = parse_docstring(
        """Do it.

        Args:
            city: City name, continued
                on the next line.
            unit (str): Temperature unit.
            mapping (dict(str, int)): Keys: values, with a colon in the text.
            choice (Literal['a:b']): Bracketed colons stay in the type.
            *args: Extra positional values.
            **kwargs: Extra named values.
        """
    )
    assert parsed.args == {
        "city": "City name, continued on the next line.",
        "unit": "Temperature unit.",
        "mapping": "Keys: values, with a colon in the text.",
        "choice": "Bracketed colons stay in the type.",
        "args": "Extra positional values.",
        "kwargs": "Extra named values.",
    }
    entries = parsed.entries["args"]
    assert entries[1] == DocEntry(
        name="unit", type="str", description="Temperature unit."
    )
    assert entries[2].type == "dict(str, int)"
    assert entries[3].type == "Literal['a:b']"
    assert entries[0].type is None


def test_description_may_start_on_the_line_after_the_name() -> None:
    parsed = parse_docstring(
        """Do it.

        Args:
            city:
                The city, on its own line.

                A second paragraph.
        """
    )
    assert parsed.args == {"city": "The city, on its own line.\n\nA second paragraph."}


def test_section_synonyms_and_case_are_recognised() -> None:
    for title in ("Args", "Arguments", "Parameters", "Params", "Keyword Args", "ARGS"):
        parsed = parse_docstring(f"Summary.\n\n{title}:\n    x: The x.\n")
        assert parsed.args == {"x": "The x."}, title


def test_other_sections_end_args_and_keep_their_text() -> None:
    parsed = parse_docstring(
        """Summary.

        Args:
            x: The x.

        Returns:
            The result,
            on two lines.

        Raises:
            ValueError: When x is bad.

        Examples:
            >>> f(1)
            2
        """
    )
    assert parsed.args == {"x": "The x."}
    assert parsed.sections["returns"] == "The result,\non two lines."
    assert parsed.sections["examples"] == ">>> f(1)\n2"
    assert parsed.entries["raises"] == [
        DocEntry(name="ValueError", description="When x is bad.")
    ]


def test_text_back_at_the_margin_ends_a_section() -> None:
    parsed = parse_docstring(
        """Summary.

        Args:
            x: The x.
        Not part of the args.
        """
    )
    assert parsed.args == {"x": "The x."}
    assert parsed.body == "Not part of the args."


def test_a_colon_line_that_is_no_section_title_is_plain_text() -> None:
    parsed = parse_docstring("Summary.\n\nSee this:\n    indented text\n")
    assert parsed.entries == {}
    assert parsed.body == "See this:\nindented text"


def test_attributes_section_describes_class_fields() -> None:
    parsed = parse_docstring(
        """A point.

        Attributes:
            x: Horizontal.
            y (int): Vertical.
        """
    )
    assert parsed.summary == "A point."
    assert parsed.attributes == {"x": "Horizontal.", "y": "Vertical."}


def test_repeated_sections_are_merged() -> None:
    parsed = parse_docstring(
        "S.\n\nArgs:\n    a: A.\n\nNote:\n    one\n\nArgs:\n    b: B.\n\nNote:\n    two\n"
    )
    assert parsed.args == {"a": "A.", "b": "B."}
    assert parsed.sections["notes"] == "one\n\ntwo"


def test_entries_without_a_colon_and_stray_lines_are_kept_sensibly() -> None:
    parsed = parse_docstring(
        """S.

        Args:

                stray line before any entry
            flag
            x: The x.
        """
    )
    assert parsed.args == {"flag": "", "x": "The x."}


def test_a_docstring_that_is_only_sections_has_no_summary() -> None:
    parsed = parse_docstring("Args:\n    x: The x.\n")
    assert parsed.summary == ""
    assert parsed.args == {"x": "The x."}


def test_a_section_on_the_first_line_keeps_the_sections_after_it() -> None:
    def f() -> None:
        """Args:
            x: The x.

        Returns:
            Nothing.
        """

    parsed = parse_docstring(f.__doc__)
    assert parsed.args == {"x": "The x."}
    assert parsed.sections["returns"] == "Nothing."
