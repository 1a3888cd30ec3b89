"""How a long-running dutyd process presents and keeps itself: its name in claims, and
its garbage collector once started."""

from __future__ import annotations

import gc
import os
import socket

GC_GENERATION0_THRESHOLD = 50_000  # Python's default, 700, collects many times a batch


def tune_garbage_collector() -> None:
    """For a long-running daemon, once started: what exists now (plans, roster, SQLAlchemy's
    compiled statements) lives as long as the process, so the cyclic collector stops
    walking it again and again, and runs less often. The outbox sends 15-25 % more a
    second with this (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GENERATION0_THRESHOLD, 20, 20)


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
