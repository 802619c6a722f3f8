"""REST objects as the upstream sends them, for tests that fake the upstream."""

from __future__ import annotations

from typing import Any


def rest_run(run_id: str = "run_1", thread_id: str = "thread_1", **fields: Any) -> dict[str, Any]:
    """A REST `thread.run` object with every required field; `fields` override."""
    run: dict[str, Any] = {
        "id": run_id,
        "object": "thread.run",
        "created_at": 1_700_000_000,
        "thread_id": thread_id,
        "assistant_id": "asst_1",
        "status": "completed",
        "required_action": None,
        "last_error": None,
        "expires_at": None,
        "started_at": 1_700_000_001,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": 1_700_000_002,
        "model": "gpt-4",
        "instructions": "Be brief.",
        "tools": [],
        "file_ids": [],
        "metadata": {},
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    run.update(fields)
    return run


def rest_page(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """A REST list page of `items`."""
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def rest_error(
    message: str, type_: str = "invalid_request_error", param: str | None = None
) -> dict[str, Any]:
    """An OpenAI error body."""
    return {"error": {"message": message, "type": type_, "param": param, "code": None}}
