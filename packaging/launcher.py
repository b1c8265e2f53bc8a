"""Entry script of the PyInstaller bundle: the same ``main`` as ``python -m samdesk``.

PyInstaller needs a script file; ``samdesk/__main__.py`` itself would be frozen under the
name ``__main__`` and its package-relative imports would not resolve, hence this shim.
"""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen program that uses multiprocessing (torch's DataLoader, a process pool) must
    # stop here in the child processes instead of starting the app a second time.
    multiprocessing.freeze_support()

    from samdesk.__main__ import main

    sys.exit(main())
