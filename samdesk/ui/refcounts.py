"""Keep None, True and False alive under PySide6 builds that assume immortal objects.

PySide6 6.12 on CPython 3.11 drops a reference to ``None`` each time a C++ signal calls a
Python slot, and one to ``True`` for each Python-side ``emit()`` (measured: -1 per call).
From Python 3.12 on these objects are immortal and the extra releases are harmless; on
3.11 their counts reach zero after a few thousand clicks, and the interpreter aborts
("none_dealloc: deallocating None", "bool_dealloc") or crashes later. Giving the three
singletons a reference count too large to ever reach zero is what 3.12 does for them.
"""

from __future__ import annotations

import sys

_HEADROOM = 1 << 40  # ~10^12 releases: far beyond any session


def pin_singletons() -> bool:
    """Raise the reference counts of None, True and False on CPython < 3.12 (once).

    True when applied now; False when not needed (3.12+, another interpreter, a
    trace-refs debug build whose object header differs) or already applied.
    """
    if (
        sys.implementation.name != "cpython"
        or sys.version_info >= (3, 12)
        or hasattr(sys, "getobjects")  # Py_TRACE_REFS: ob_refcnt is not the first field
        or sys.getrefcount(None) > _HEADROOM
    ):
        return False
    import ctypes

    for obj in (None, True, False):
        # PyObject starts with ob_refcnt (Py_ssize_t) in every non-trace-refs build.
        ctypes.c_ssize_t.from_address(id(obj)).value += _HEADROOM
    return True
