"""Entry point: ``samdesk`` / ``python -m samdesk``.

With a subcommand (``encode``, ``export``, ``import``) or ``--selftest`` it runs headless;
otherwise it opens the window. Qt and torch are imported only on the paths that need them,
so ``samdesk --help`` answers at once.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run; returns the process exit code."""
    from samdesk.cli import run

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
