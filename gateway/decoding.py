"""Reading an upstream body within bounds: decompressed step by step, and counted against one budget that
every call's bodies share.

A per-body cap alone does not hold a hostile upstream: eight answers of 64 MiB each at once are 512 MiB, and
a gzip answer of 10 MB that inflates to 10 GiB is inflated by an ordinary decoder in one step before any
cap is checked. Here a body is inflated at most `STEP` bytes at a time, each step counted against its own
cap and against the `Budget` of all bodies being held, so what all calls together hold is bounded, the
decompressed bytes included, and is given back when each call is done with its body.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

STEP = 64 * 1024
"""The most bytes one step of inflating a body may produce."""

BUDGET_BYTES = 256 * 1024 * 1024
"""The default of what all upstream bodies held at once may take (four bodies at the per-body cap)."""


class Unreadable(ValueError):
    """A body in an encoding the gateway does not read (it asks for gzip and deflate only)."""


class Budget:
    """Bytes that the bodies of all calls in flight may hold together; `take` says whether there is room."""

    def __init__(self, limit: int = BUDGET_BYTES) -> None:
        self.limit = limit
        self.held = 0
        self.refused = 0
        """How many bodies were refused for want of room (for metrics)."""

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            self.refused += 1
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


class Decoder:
    """A body's `Content-Encoding` undone in steps of at most `STEP` bytes: identity, gzip or deflate
    (zlib-wrapped, or raw as some servers send it)."""

    def __init__(self, encoding: str | None) -> None:
        name = (encoding or "identity").strip().lower()
        if name in ("", "identity"):
            self._inflate: zlib._Decompress | None = None
        elif name in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif name == "deflate":
            self._inflate = zlib.decompressobj()
        else:
            raise Unreadable(f"upstream answered in an encoding the gateway does not read: {name}")
        self._raw_deflate = name == "deflate"
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of the next raw chunk, in pieces of at most `STEP` bytes."""
        if self._inflate is None:
            for start in range(0, len(data), STEP):
                yield data[start : start + STEP]
            return
        while data:
            try:
                piece = self._inflate.decompress(data, STEP)
            except zlib.error:
                if not (self._raw_deflate and not self._started):
                    raise Unreadable("upstream sent a body that does not inflate") from None
                self._inflate, self._raw_deflate = zlib.decompressobj(-zlib.MAX_WBITS), False
                continue
            self._started = True
            tail = self._inflate.unconsumed_tail
            if piece:
                yield piece
            elif tail == data:
                break  # no progress without more input
            data = tail
