"""Cursor pagination: pages follow `last_id`, at most one page is fetched ahead, closing stops fetching, and
each page passes on its fresh items together."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.errors import UpstreamProtocolError
from gateway.pagination import fresh, pages, prefetched


class Pages:
    """A fake list of `total` items in pages of `size`; records each cursor it is asked for."""

    def __init__(self, total: int, size: int) -> None:
        self.ids = [f"item_{i}" for i in range(total)]
        self.size = size
        self.asked: list[str | None] = []

    async def fetch(self, after: str | None) -> dict[str, Any]:
        self.asked.append(after)
        await asyncio.sleep(0)
        start = 0 if after is None else self.ids.index(after) + 1
        data = [{"id": i} for i in self.ids[start : start + self.size]]
        return {
            "data": data,
            "last_id": data[-1]["id"] if data else None,
            "has_more": start + self.size < len(self.ids),
        }


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.mark.parametrize(("total", "size"), [(0, 5), (1, 5), (5, 5), (23, 5), (100, 1)])
async def test_every_item_once_in_order(total: int, size: int) -> None:
    source = Pages(total, size)
    got = [[item["id"] for item in page] async for page in fresh(prefetched(pages(source.fetch)))]
    assert got == [source.ids[start : start + size] for start in range(0, total, size)]  # a list per page
    cursors = source.ids[size - 1 : -1 : size] if total > size else []
    assert source.asked == [None, *cursors]


async def test_at_most_one_page_is_fetched_ahead() -> None:
    source = Pages(50, 5)
    stream = prefetched(pages(source.fetch))
    first = await anext(stream)
    assert first["data"][0]["id"] == "item_0"
    await settle()
    assert len(source.asked) == 2  # the page being consumed and the next one, never more
    await anext(stream)
    await settle()
    assert len(source.asked) == 3
    await stream.aclose()  # type: ignore[attr-defined]
    await settle()
    assert len(source.asked) == 3


async def test_closing_cancels_the_page_in_flight() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def fetch(after: str | None) -> dict[str, Any]:
        if after is None:
            return {"data": [{"id": "a"}], "last_id": "a", "has_more": True}
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    stream = prefetched(pages(fetch))
    await anext(stream)
    await asyncio.wait_for(started.wait(), 30)
    await stream.aclose()  # type: ignore[attr-defined]
    assert cancelled.is_set()


@pytest.mark.parametrize(
    "page",
    [
        {"data": [{"id": "a"}], "last_id": "a", "has_more": True},  # the same cursor again
        {"data": [], "last_id": None, "has_more": True},  # more, but no cursor
        {"data": "nope", "has_more": False},  # not a list
    ],
)
async def test_a_broken_list_raises_instead_of_looping(page: dict[str, Any]) -> None:
    calls = 0

    async def fetch(after: str | None) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return page

    with pytest.raises(UpstreamProtocolError):
        [page async for page in fresh(prefetched(pages(fetch, "a")))]
    assert calls <= 2


async def test_overlapping_pages_pass_on_only_the_fresh_items() -> None:
    served = [
        {"data": [{"id": "a"}, {"id": "b"}, {"id": "b"}], "last_id": "b", "has_more": True},
        {"data": [{"id": "b"}, {"id": "c"}], "last_id": "c", "has_more": True},
        {"data": [{"id": "c"}, {"id": "d"}], "last_id": "d", "has_more": False},
    ]

    async def fetch(after: str | None) -> dict[str, Any]:
        return served[[None, "b", "c"].index(after)]

    got = [[item["id"] for item in page] async for page in fresh(pages(fetch))]
    assert got == [["a", "b"], ["c"], ["d"]]


async def test_a_last_page_of_repeats_yields_nothing_and_a_middle_one_raises() -> None:
    async def fetch_last(after: str | None) -> dict[str, Any]:
        if after is None:
            return {"data": [{"id": "a"}], "last_id": "a", "has_more": True}
        return {"data": [{"id": "a"}], "last_id": "a2", "has_more": False}

    assert [[item["id"] for item in page] async for page in fresh(pages(fetch_last))] == [["a"]]

    async def fetch_middle(after: str | None) -> dict[str, Any]:
        if after is None:
            return {"data": [{"id": "a"}], "last_id": "a", "has_more": True}
        return {"data": [{"id": "a"}], "last_id": "a2", "has_more": True}

    with pytest.raises(UpstreamProtocolError, match="brings no new item"):
        [page async for page in fresh(pages(fetch_middle))]
