"""A short-lived lock file that serialises one read-merge-write of a shared project file.

Several samdesk processes (two annotators on one network folder) may save the same file.
Each save takes the lock, re-reads the file, merges what another writer changed, writes
(atomically) and releases the lock — milliseconds. The lock is a plain file created with
``O_CREAT | O_EXCL``, which is atomic on local file systems, NFS v3+ and SMB shares, so it
needs no lock daemon (``fcntl`` locks are unreliable or absent on many shared folders).

A lock left by a process that crashed (or a machine that lost the share) is stale after
``STALE_SECONDS`` — far longer than any save — or at once when it names a process of this
machine that is gone; it is then broken: renamed away (only one breaker wins the rename)
and deleted. The lock files live in ``.samdesk/locks/``; samdesk
wrote them, so removing them is ours to do.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["STALE_SECONDS", "WAIT_SECONDS", "LockTimeout", "file_lock"]

STALE_SECONDS = 30.0
"""A lock older than this is a crashed writer's: a save holds it for milliseconds."""
EMPTY_STALE_SECONDS = 1.0
"""An empty lock file older than this lost its writer before the token was written."""
WAIT_SECONDS = 10.0
"""How long a save waits for another writer's lock before it fails (and can be retried)."""


class LockTimeout(TimeoutError):
    """Another process held the lock for longer than the wait allows."""


def _owner_is_dead(lock: Path) -> bool:
    """True if the lock was taken on this machine by a process that no longer runs (a
    crash or a kill): then it is stale at once, without waiting ``STALE_SECONDS``."""
    try:
        pid_text, host, _ = lock.read_text().split(" ", 2)
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _break_if_stale(lock: Path, stale: float) -> None:
    try:
        judged = lock.read_bytes()
        age = time.time() - lock.stat().st_mtime
    except OSError:
        return
    # A lock with no owner written yet is a writer killed between creating the file and
    # writing its token (microseconds apart): stale once it is a moment old.
    unowned = not judged.strip() and age > EMPTY_STALE_SECONDS
    if age < stale and not unowned and not _owner_is_dead(lock):
        return
    aside = lock.with_name(f"{lock.name}.stale-{secrets.token_hex(4)}")
    try:
        os.rename(lock, aside)  # atomic: of several breakers, one wins
    except OSError:
        return
    with contextlib.suppress(OSError):
        if aside.read_bytes() != judged:
            # Another breaker was faster and a live writer's fresh lock got renamed here:
            # put it back (link fails if yet another lock exists meanwhile).
            os.link(aside, lock)
    with contextlib.suppress(OSError):
        aside.unlink()


@contextlib.contextmanager
def file_lock(
    lock: Path, *, wait: float = WAIT_SECONDS, stale: float = STALE_SECONDS
) -> Iterator[None]:
    """Hold the lock file ``lock`` for the ``with`` block; LockTimeout after ``wait`` s."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()} {socket.gethostname()} {secrets.token_hex(8)}\n".encode()
    deadline = time.monotonic() + wait
    delay = 0.001
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            _break_if_stale(lock, stale)
            if time.monotonic() > deadline:
                raise LockTimeout(f"another samdesk is saving {lock.stem}; try again") from None
            time.sleep(delay)  # another writer's save takes milliseconds
            delay = min(delay * 2, 0.05)
            continue
        try:
            os.write(fd, token)
        finally:
            os.close(fd)
        break
    try:
        yield
    finally:
        # Remove only our own lock: if ours was broken as stale (a save stuck for 30 s on a
        # dead share), the file there now is another writer's.
        with contextlib.suppress(OSError):
            if lock.read_bytes() == token:
                lock.unlink()
