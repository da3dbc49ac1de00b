"""The ``llmgine`` command line: the parser, and the dispatch to each command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ._common import CLIError, add_provider_arguments, make_console

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
llmgine: LLM applications as supervised actors on trio.

  llmgine demo                 offline demo: tools, a crash, a 429 storm, a summary
  llmgine chat                 interactive chat (offline unless --provider is given)
  llmgine trace FILE           show a JSONL trace as a tree (--follow to tail it)
  llmgine stress --quick       chaos stress suite: nothing accepted may be lost
  llmgine bench --quick        runtime, bus and tracer benchmarks
"""

#: Commands whose arguments belong to the stress package's own parsers.
_DELEGATED = {
    "stress": ("runner", "chaos stress suite (llmgine stress --help)"),
    "bench": ("bench", "benchmarks: runtime, bus, tracer, import time"),
}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llmgine")
    except Exception:  # pragma: no cover - running from a checkout without metadata
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``llmgine`` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="llmgine",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"llmgine {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run the demo: supervision, a circuit breaker and tools, traced",
        description=(
            "Start an actor system (a chat engine, a provider behind a circuit"
            " breaker, tool actors under supervisors), run a tool-using"
            " conversation, crash a tool and storm the provider with 429s, then"
            " print a summary. Offline unless --provider is given. Its own"
            " console shows prompts and replies (content capture is on for it);"
            " other trace outputs get them only with"
            " OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true."
        ),
    )
    add_provider_arguments(demo)
    demo.add_argument("--trace", metavar="FILE", help="also write the trace as JSONL")
    demo.add_argument(
        "--verbose", action="store_true", help="show every trace record (messages too)"
    )
    demo.add_argument(
        "--quiet", action="store_true", help="no trace lines, only the story and summary"
    )

    chat = commands.add_parser(
        "chat",
        help="interactive chat with streaming output and tools",
        description=(
            "Chat with a model in the terminal. Commands: /tools lists the tools,"
            " /clear starts a new conversation, /exit (or end of input) quits."
            " Offline unless --provider is given."
        ),
    )
    add_provider_arguments(chat)
    chat.add_argument(
        "--trace",
        metavar="FILE",
        help=(
            "write the trace as JSONL (prompts and replies only with"
            " OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true; the"
            " conversation itself is shown on this console)"
        ),
    )
    chat.add_argument("--system", metavar="PROMPT", help="the system prompt")

    trace = commands.add_parser(
        "trace",
        help="show a JSONL trace as a tree",
        description=(
            "Read a trace written by JsonlHandler (LLMGINE_TRACE=jsonl:FILE) and show"
            " each trace as a tree: actor messages, LLM calls, tools, with durations"
            " and errors."
        ),
    )
    trace.add_argument("file", metavar="FILE", help="the JSONL trace file")
    trace.add_argument(
        "--follow",
        action="store_true",
        help="keep reading as the file grows (waiting for it to appear)",
    )
    trace.add_argument(
        "--interval",
        type=float,
        default=0.5,
        metavar="S",
        help="seconds between reads with --follow (default 0.5)",
    )

    for name, (_, summary) in _DELEGATED.items():
        sub = commands.add_parser(name, help=summary, add_help=False)
        sub.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _delegate(name: str, argv: Sequence[str]) -> int:
    from ._suite import import_suite

    module = import_suite(_DELEGATED[name][0])
    entry: Callable[[list[str]], int] = module.main
    try:
        return int(entry(list(argv)))
    except SystemExit as exit_:  # its parser's --help or usage error
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(args, make_console())
    if args.command == "chat":
        from ._chat import run_chat

        return run_chat(args, make_console())
    from ._trace import run_trace

    return run_trace(args, make_console())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``llmgine`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Exit codes: 0 success, 1 the command ran and failed (a provider error, a
    broken stress invariant), 2 a usage error (bad arguments, a missing API
    key, an unreadable trace file).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if arguments and arguments[0] in _DELEGATED:
            return _delegate(arguments[0], arguments[1:])
        args = parser.parse_args(arguments)
        if args.command is None:
            parser.print_help()
            return 2
        return _run(args)
    except CLIError as error:
        command = arguments[0] if arguments else ""
        prog = f"llmgine {command}" if command in _COMMANDS else "llmgine"
        print(f"{prog}: error: {error.message}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


_COMMANDS = frozenset({"demo", "chat", "trace", *_DELEGATED})
