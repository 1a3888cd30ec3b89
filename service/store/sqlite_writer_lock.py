"""The turn of dutyd's processes at an SQLite file's one writer.

SQLite lets one connection write at a time. A connection that finds the write lock taken
waits in SQLite's busy handler, which sleeps between tries, longer each time, up to 100 ms
a try: with two daemon processes (`http_workers`) or the CLI beside the daemon, a
transaction that had to wait often waited tens of milliseconds after the lock was free.
Before it begins a write transaction, each dutyd connection takes this lock, a `flock` on
a file beside the database, looked at every few hundred microseconds; so a waiting writer
goes within a fraction of a millisecond of the last one's commit, and SQLite's own lock is
free when it asks. A process that dies loses its lock with it (the kernel's doing). Other
programs writing to the file are still waited for by SQLite's busy handler.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time

FIRST_WAIT_SECONDS = 0.0002
LONGEST_WAIT_SECONDS = 0.001


class WriterLock:
    """One connection's hold on the lock file `path`; used from the connection's thread."""

    def __init__(self, path: str, timeout_seconds: float) -> None:
        self.path, self.timeout_seconds = path, timeout_seconds
        self._fd: int | None = None
        self.held = False

    def acquire(self) -> None:
        if self.held:
            return
        if self._fd is None:
            # Read-only is enough to lock, so a process that may not write this file (the
            # CLI run as another user of the daemon's group) still takes its turn.
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + self.timeout_seconds
        wait = FIRST_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError(
                        f"database is locked: another dutyd process has been writing for "
                        f"{self.timeout_seconds:g} s ({self.path})"
                    ) from None
                time.sleep(wait)
                wait = min(wait * 2, LONGEST_WAIT_SECONDS)

    def release(self) -> None:
        if self.held and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self.held = False

    def release_unless_writing(self, connection: sqlite3.Connection) -> None:
        """Let the lock go once the connection's transaction has ended, however it ended
        (committed, rolled back, or ended by SQLite itself after an error)."""
        if self.held and not connection.in_transaction:
            self.release()

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
