"""What several test files share: a built gateway served on a loopback port of this event loop, and waiting
a bounded time for something to become true."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from gateway.server import Built


@asynccontextmanager
async def serving(built: Built) -> AsyncIterator[str]:
    """Serve `built` on a free loopback port for the block, its address (`127.0.0.1:PORT`) in hand; then
    stop it at once and close its upstream client."""
    port = built.server.add_insecure_port("127.0.0.1:0")
    await built.server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await built.server.stop(0)
        await built.gateway.upstream.aclose()


def until(condition: Callable[[], bool], timeout: float = 30) -> bool:
    """Whether `condition` holds within `timeout` seconds (looked at every 10 ms)."""
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.01)
    return True
