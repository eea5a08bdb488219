"""Helpers for the store tests: a child process killed with SIGKILL at a chosen point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Callable

import pytest


def _kill_child(code: str, *args: str, at: Callable[[str], bool]) -> str:
    """Run ``code`` in a fresh interpreter, SIGKILL it once a line it prints satisfies ``at``; return that line."""
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    line = ""
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if at(line.strip()):
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return line.strip()


@pytest.fixture
def kill_child() -> Callable[..., str]:
    """``kill_child(code, *args, at=predicate)``: see ``_kill_child``."""
    return _kill_child
