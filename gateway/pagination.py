"""Cursor pagination as layered async generators: pages, then one page fetched ahead, then items.

`pages` follows the REST cursors (`has_more`, then `last_id` as the next `after`) and refuses a cursor that
does not advance, so a broken upstream ends the stream with an error instead of looping forever.
`prefetched` keeps exactly one page in flight while the caller consumes the current one: memory stays at
two pages however long the list, and the next page's latency hides behind the streaming of this one. When the
consumer stops (the gRPC client cancelled), the page in flight is cancelled, which aborts its HTTP request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from gateway.errors import UpstreamProtocolError

Page = dict[str, Any]
FetchPage = Callable[[str | None], Awaitable[Page]]
"""Fetches the page that starts after the given cursor (None: the first page)."""


async def pages(fetch: FetchPage, after: str | None = None) -> AsyncIterator[Page]:
    """Every page of a list, in order, starting after the cursor `after`."""
    while True:
        page = await fetch(after)
        data = page.get("data")
        if not isinstance(data, list):
            raise UpstreamProtocolError("upstream list page has no `data` array")
        yield page
        if not page.get("has_more"):
            return
        cursor = page.get("last_id") or (data[-1].get("id") if data and isinstance(data[-1], dict) else None)
        if not isinstance(cursor, str) or not cursor or cursor == after:
            raise UpstreamProtocolError("upstream list says has_more but its cursor does not advance")
        after = cursor


async def prefetched(source: AsyncIterator[Page]) -> AsyncIterator[Page]:
    """The pages of `source`, fetching the next one while the caller handles the current one."""
    pending = asyncio.ensure_future(_next(source))
    try:
        while (page := await pending) is not None:
            pending = asyncio.ensure_future(_next(source))
            yield page
    finally:
        pending.cancel()
        # Let the cancelled fetch unwind (its HTTP request is closed) before closing the source. What it
        # raised no longer matters to anyone: retrieve it so asyncio does not report it as lost.
        await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()
        await source.aclose()  # type: ignore[attr-defined]


async def _next(source: AsyncIterator[Page]) -> Page | None:
    try:
        return await anext(source)
    except StopAsyncIteration:
        return None


async def items(source: AsyncIterator[Page]) -> AsyncIterator[dict[str, Any]]:
    """The items of every page of `source`, in order."""
    async for page in source:
        for item in page["data"]:
            yield item
