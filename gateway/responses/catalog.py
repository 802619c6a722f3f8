"""The assistants file as the gateway serves it: read at start, read again when it changes, no restart.

At most once every `check_every` seconds a lookup looks at the file's modification time and size (off the
event loop, on a thread); when they changed, it reads the file again. A new file that cannot be used
(`AssistantsFileError`) is logged and the assistants read before are kept, so a bad edit never takes
running assistants away; the next good edit is taken.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from gateway.responses.assistants import Assistant, AssistantsFileError, load_assistants

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0
"""Seconds between two looks at the file: an edit is served within about a second."""


class AssistantsFile:
    """The assistants of one JSON file, kept up to date with it. Raises AssistantsFileError at start."""

    def __init__(
        self, path: Path, *, check_every: float = CHECK_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._check_every = check_every
        self._clock = clock
        self._assistants = load_assistants(path)
        self._stamp = _stamp(path)
        self._checked = clock()

    async def get(self, assistant_id: str) -> Assistant | None:
        """The assistant of that id in the file as it is now (within `check_every`), or None."""
        if self._clock() - self._checked >= self._check_every:
            self._checked = self._clock()
            await asyncio.to_thread(self._reload)
        return self._assistants.get(assistant_id)

    def _reload(self) -> None:
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            log.error("assistants file unreadable, the assistants read before are kept: %s", exc)
            return
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._assistants = load_assistants(self.path)
        except AssistantsFileError as exc:
            log.error("assistants file not reloaded, the assistants read before are kept: %s", exc)
            return
        log.info("assistants file reloaded: %d assistants", len(self._assistants))


def _stamp(path: Path) -> tuple[int, int, int]:
    """What tells that the file changed: its modification time, size and inode (a file renamed over it)."""
    found = os.stat(path)
    return found.st_mtime_ns, found.st_size, found.st_ino
