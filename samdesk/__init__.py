"""samdesk: desktop image annotation with Segment Anything.

Importing this package is cheap on purpose: torch and Qt are imported only by the
modules that need them (``samdesk.sam``/``samdesk.engine`` and ``samdesk.ui``).
"""

from __future__ import annotations

__version__ = "0.1.0"
