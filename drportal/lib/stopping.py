"""Blocking until a long-running management command is told to stop (SIGTERM from drportal.run, or Ctrl-C)."""

from __future__ import annotations

import signal
import threading


def wait_for_stop() -> None:
    """Return when the process receives SIGTERM or is interrupted; the caller then shuts its servers down."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
