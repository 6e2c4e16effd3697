"""Fault injection: named points in the commands where the fault-injection suite
(tests/core/test_faults.py, benchmarks/fault_injection.py) kills a command with SIGKILL, and a
trace of every evaluation sent to training. Two environment variables that a user never needs:

    EVO_RNN_KILL_AT=POINT:N[:SECONDS]   the N-th pass of POINT in this process kills it with
                                        SIGKILL (SECONDS later, from a timer: in the middle of
                                        whatever follows, e.g. a training)
    EVO_RNN_TRACE=FILE                  each evaluation sent to training appends one JSON line

A point named `record:confirm` also counts as a pass of `record`. The points (`POINTS`):

    train:PHASE       an evaluation is sent to a worker (phase: seed, filter, race... confirm, export)
    record:PHASE      a finished evaluation is about to be committed
    recorded:PHASE    it was committed; its model is not kept yet and its driver has not heard
    population        inside the transaction that replaces the population
    export:cell       one cell's folder of an export is written in its staging folder
    export:swap       the export is complete, about to replace the previous one
    export:swapped    it replaced it; the previous one is not removed yet

Without the variables each point costs one dictionary lookup.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

__all__ = ["KILL_AT", "POINTS", "TRACE", "point", "trace"]

KILL_AT = "EVO_RNN_KILL_AT"
TRACE = "EVO_RNN_TRACE"
POINTS = ("train", "record", "recorded", "population", "export:cell", "export:swap", "export:swapped")

_passes: dict[str, int] = {}


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _target() -> tuple[str, int, float] | None:
    spec = os.environ.get(KILL_AT)
    if not spec:
        return None
    parts = spec.split(":")
    delay = 0.0
    if len(parts) >= 3 and _is_number(parts[-1]) and _is_number(parts[-2]):
        delay = float(parts.pop())
    if len(parts) < 2 or not parts[-1].isdigit():
        raise ValueError(f"{KILL_AT}={spec!r}: expected POINT:N or POINT:N:SECONDS, e.g. record:3")
    return ":".join(parts[:-1]), int(parts[-1]), delay


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def point(name: str) -> None:
    """Passes the point `name`: kills this process when it is the pass `EVO_RNN_KILL_AT` names."""
    target = _target()
    if target is None:
        return
    wanted, count, delay = target
    if name != wanted and not name.startswith(wanted + ":"):
        return
    _passes[wanted] = _passes.get(wanted, 0) + 1
    if _passes[wanted] != count:
        return
    if delay <= 0:
        _kill()
    timer = threading.Timer(delay, _kill)
    timer.daemon = True
    timer.start()


def trace(event: dict[str, Any]) -> None:
    """Appends `event` as one JSON line to the file `EVO_RNN_TRACE` names (nothing without it).
    One `write` of a short line in append mode: lines from several processes do not mix."""
    path = os.environ.get(TRACE)
    if not path:
        return
    line = (json.dumps({**event, "pid": os.getpid()}, sort_keys=True) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)
