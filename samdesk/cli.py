"""Command-line interface: the GUI start and the headless subcommands.

Each subcommand lives in the layer it belongs to and exposes ``add_*_arguments(parser)``
and ``run_*(args) -> int``. Those modules import nothing heavy at top level, so building
the whole parser (for ``--help``) stays fast; torch and Qt load inside ``run_*``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

import samdesk


@dataclass(frozen=True)
class _Subcommand:
    name: str
    help: str
    module: str
    add_arguments: str
    run: str


_SUBCOMMANDS: tuple[_Subcommand, ...] = (
    _Subcommand(
        "encode",
        "pre-compute the embedding disk cache for a folder or project (GPU if present)",
        "samdesk.engine.cli",
        "add_encode_arguments",
        "run_encode",
    ),
    _Subcommand(
        "export",
        "export a project's annotations (COCO, YOLO, LabelMe, PNG masks, Pascal VOC)",
        "samdesk.io.cli",
        "add_export_arguments",
        "run_export",
    ),
    _Subcommand(
        "import",
        "import annotations (COCO, YOLO, LabelMe, PNG masks, Pascal VOC) into a project",
        "samdesk.io.cli",
        "add_import_arguments",
        "run_import",
    ),
)


def build_parser(*, with_project: bool = True) -> argparse.ArgumentParser:
    """The full argument parser (GUI options plus every available subcommand).

    argparse cannot tell an optional positional (the PROJECT to open) from a subcommand
    name, so the parser used for a subcommand line is built without PROJECT.
    """
    parser = argparse.ArgumentParser(
        prog="samdesk",
        description="samdesk — image annotation with Segment Anything. "
        "Without a subcommand, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"samdesk {samdesk.__version__}")
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="run a headless check of the installed program and exit 0 (ok) or 1",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="open (a copy of) the bundled sample project",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="SAM / MobileSAM checkpoint to use (for the window and --selftest)",
    )
    if with_project:
        parser.add_argument(
            "project",
            nargs="?",
            metavar="PROJECT",
            help="project file or image folder to open in the window",
        )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for sub in _SUBCOMMANDS:
        add = _resolve(sub.module, sub.add_arguments)
        if add is None:
            # A layer that has not landed yet in this build: list it, explain on use.
            sub_parser = subparsers.add_parser(sub.name, help=f"{sub.help} (not available)")
        else:
            sub_parser = subparsers.add_parser(sub.name, help=sub.help, description=sub.help)
            add(sub_parser)
        sub_parser.set_defaults(_subcommand=sub)
    return parser


def _resolve(module: str, attr: str) -> Callable | None:
    """``module.attr``, or None when that module is not part of this build.

    Only a missing module counts as "not available"; a broken one raises, so a bug is
    never mistaken for an absent feature.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise
    return getattr(mod, attr)


def _split_subcommand(argv: list[str]) -> bool:
    """Whether argv names a subcommand (so a positional PROJECT cannot be mistaken)."""
    names = {s.name for s in _SUBCOMMANDS}
    return any(a in names for a in argv if not a.startswith("-"))


def run(argv: list[str]) -> int:
    """Run the command line ``argv``; returns the exit code."""
    if _split_subcommand(argv):
        args = build_parser(with_project=False).parse_args(argv)
    else:
        # argparse cannot mix an optional positional with subparsers: without a subcommand
        # parse only the top-level options.
        top = argparse.ArgumentParser(add_help=False)
        top.add_argument("--selftest", action="store_true")
        top.add_argument("--sample", action="store_true")
        top.add_argument("--checkpoint")
        top.add_argument("project", nargs="?")
        parser = build_parser()
        if any(a in ("-h", "--help", "--version") for a in argv):
            parser.parse_args(argv)  # prints and exits
        args, unknown = top.parse_known_args(argv)
        if unknown:
            parser.error(f"unrecognised arguments: {' '.join(unknown)}")
        args.command = None
    if args.command:
        sub: _Subcommand = args._subcommand
        runner = _resolve(sub.module, sub.run)
        if runner is None:
            print(f"samdesk: '{sub.name}' is not available in this build", file=sys.stderr)
            return 2
        return int(runner(args))
    if args.selftest:
        from samdesk.selftest import run_selftest

        return run_selftest(args.checkpoint)
    project = args.project
    if args.sample:
        from samdesk.io.sample import working_sample_project

        try:
            project = str(working_sample_project())
        except OSError as exc:
            print(f"samdesk: cannot open the sample project: {exc}", file=sys.stderr)
            return 1
    from samdesk.ui.app import run_gui

    return run_gui(project, checkpoint=args.checkpoint)
