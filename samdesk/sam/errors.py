"""Errors raised by the SAM model layer."""

from __future__ import annotations


class SamCheckpointError(ValueError):
    """A checkpoint file cannot be used as a Segment Anything model.

    The message is meant for the user: it says what was found and what to do about it.
    """
