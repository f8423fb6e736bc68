"""The embedded Triton's undertaker: a tiny process that outlives a killed launcher.

The launcher starts ``python -m docserve.api.triton_reaper PGID SHM_PREFIX`` in a session of its
own, with its standard input on a pipe the launcher holds. A launcher that stops Triton itself
writes ``done`` and closes the pipe; a launcher that dies (SIGKILL, OOM, a crash) closes it
without a word, and then the reaper does what the launcher could not: SIGTERM the server's
process group (the server and every python-backend stub), SIGKILL whatever ignores it after a
grace period, and remove the server's ``/dev/shm`` regions. Nothing is left behind either way.

It imports nothing but the standard library, so it starts in milliseconds and cannot fail on a
missing package.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

DONE = b"done"
SHM_DIR = Path("/dev/shm")
GRACE_S = 10.0


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but is not ours: not a group we started
        return False
    return True


def stop_group(pgid: int, grace_s: float = GRACE_S) -> None:
    """SIGTERM the group, wait up to ``grace_s`` for it to go, then SIGKILL what is left."""
    if not group_alive(pgid):
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and group_alive(pgid):
        time.sleep(0.1)
    if group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.05)


def remove_shm_regions(prefix: str) -> None:
    if not prefix.startswith("docserve_"):  # never a glob that could match another program's
        return
    for region in SHM_DIR.glob(f"{prefix}*"):
        region.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    pgid, prefix = int(argv[0]), argv[1]
    # Ctrl-C in the launcher's terminal is the launcher's business, not ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    message = sys.stdin.buffer.read()  # returns when the launcher closes the pipe or dies
    if message.strip() == DONE:
        return 0
    stop_group(pgid)
    remove_shm_regions(prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
