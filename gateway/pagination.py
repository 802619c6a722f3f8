"""Cursor pagination as layered async generators: pages, then one page fetched ahead, then fresh items.

`pages` follows the REST cursors (`has_more`, then `last_id` as the next `after`) and refuses a cursor it
has already followed or an empty page that says `has_more`, so a broken upstream ends the stream with an
error instead of looping forever. `fresh` passes each page's items on together, less any item the previous
or the same page already gave (pages that overlap), so a client never receives one twice.
`prefetched` keeps exactly one page in flight while the caller consumes the current one: memory stays at
two pages however long the list, and the next page's latency hides behind the streaming of this one. When the
consumer stops (the gRPC client cancelled), the page in flight is cancelled, which aborts its HTTP request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from gateway.errors import UpstreamProtocolError

log = logging.getLogger(__name__)

Page = dict[str, Any]
FetchPage = Callable[[str | None], Awaitable[Page]]
"""Fetches the page that starts after the given cursor (None: the first page)."""


async def pages(fetch: FetchPage, after: str | None = None) -> AsyncIterator[Page]:
    """Every page of a list, in order, starting after the cursor `after`."""
    followed = {after}  # one cursor per page: small, and what catches a cycle A -> B -> A
    while True:
        page = await fetch(after)
        data = page.get("data")
        if not isinstance(data, list):
            raise UpstreamProtocolError("upstream list page has no `data` array")
        if not page.get("has_more"):
            yield page
            return
        # Checked before the page is passed on: a page that leads back to one already followed is a repeat.
        cursor = page.get("last_id") or (data[-1].get("id") if data and isinstance(data[-1], dict) else None)
        if not data or not isinstance(cursor, str) or not cursor or cursor in followed:
            raise UpstreamProtocolError("upstream list says has_more but its cursor does not advance")
        yield page
        followed.add(cursor)
        after = cursor


async def prefetched(source: AsyncIterator[Page]) -> AsyncGenerator[Page, None]:
    """The pages of `source`, fetching the next one while the caller handles the current one."""
    pending = _fetch(source)
    try:
        while (page := await pending) is not None:
            pending = _fetch(source)
            # Let the fetch send its request before this page is converted and sent: the next page's round
            # trip then overlaps all of this page's work, not only what follows the conversion.
            await asyncio.sleep(0)
            yield page
    finally:
        pending.cancel()
        # Let the cancelled fetch unwind (its HTTP request is closed) before closing the source. What it
        # raised no longer matters to anyone: retrieve it so asyncio does not report it as lost.
        await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()
        await source.aclose()  # type: ignore[attr-defined]


def _fetch(source: AsyncIterator[Page]) -> asyncio.Future[Page | None]:
    fetching = asyncio.ensure_future(_next(source))
    # Mark its exception retrieved even if no one awaits it (a generator dropped by grpc.aio without being
    # closed); whoever awaits it still gets the exception.
    fetching.add_done_callback(lambda done: done.cancelled() or done.exception())
    return fetching


async def _next(source: AsyncIterator[Page]) -> Page | None:
    try:
        return await anext(source)
    except StopAsyncIteration:
        return None


async def fresh(source: AsyncIterator[Page]) -> AsyncIterator[list[Any]]:
    """The items of each page of `source`, in order, less those seen already (within two adjacent pages);
    a page that brings nothing new yields nothing.

    A page that says `has_more` but brings nothing new ends the list with an error: following it could
    only repeat itself.
    """
    previous: set[str] = set()
    async for page in source:
        current: set[str] = set()
        new = []
        for item in page["data"]:
            key = item.get("id") if isinstance(item, dict) else None
            if isinstance(key, str):
                repeated = key in previous or key in current
                current.add(key)
                if repeated:
                    log.warning("upstream list repeated an item; skipped", extra={"fields": {"id": key}})
                    continue
            new.append(item)
        if not new and page.get("has_more"):
            raise UpstreamProtocolError("upstream list says has_more but its page brings no new item")
        if new:
            yield new
        previous = current
