"""A run's steps and messages, read from its chain of responses.

A step is an output message (`message_creation`) or a run of consecutive tool call items (`tool_calls`);
its id is a digest of its response's id and its first item's, so the same step has the same id on every
read, in every process. `step_page` serves them as the Assistants API lists them. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib

from gateway.responses.mapping import (
    JSON,
    RESTING,
    RunRecord,
    last_error,
    response_usage,
    run_status,
)

TOOL_ITEMS = frozenset({"function_call", "file_search_call", "code_interpreter_call"})
"""Output items that are tool calls of a `tool_calls` step; consecutive ones (other items between them
aside) are one step."""
STEP_BREAKS = frozenset({"message"})
"""Output items that end a group of tool calls. Items of no step (reasoning, web search ...) do not."""
FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def step_id(response_id: str, item_id: str) -> str:
    """The id of the step that starts with output item `item_id` of response `response_id`: the same on
    every read, in every process (a digest of the two, nothing random, nothing counted)."""
    digest = hashlib.sha256(f"{response_id}/{item_id}".encode()).hexdigest()[:32]
    return f"step_{digest}"


def step_groups(response: JSON) -> list[list[JSON]]:
    """The output items of a response, grouped as steps: each message alone, each run of tool calls
    together; items of no step left out."""
    groups: list[list[JSON]] = []
    open_tools = False
    for item in response.get("output") or []:
        kind = item.get("type")
        if kind in STEP_BREAKS:
            groups.append([item])
            open_tools = False
        elif kind in TOOL_ITEMS:
            if not open_tools:
                groups.append([])
                open_tools = True
            groups[-1].append(item)
    return groups


def run_steps(record: RunRecord, responses: list[JSON], now: int | None = None) -> list[JSON]:
    """The run's steps as RunStepObjects, oldest first (the order of the chain, then of each response's
    output): `step_page` serves them in either order."""
    status, detail = run_status(record, responses, now if now is not None else 0)
    steps: list[JSON] = []
    for index, response in enumerate(responses):
        following = responses[index + 1] if index + 1 < len(responses) else None
        groups = step_groups(response)
        for position, group in enumerate(groups):
            step = run_step(record, response, group, following, (status, detail))
            if position == len(groups) - 1 and response.get("status") in RESTING:
                step["usage"] = response_usage(response)  # a response's usage, on the step that ended it
            steps.append(step)
    return steps


def run_step(
    record: RunRecord,
    response: JSON,
    group: list[JSON],
    following: JSON | None,
    run: tuple[str, JSON | None],
) -> JSON:
    """One step: a message_creation step of a message item, or a tool_calls step of a group of tool calls.
    `following` is the next response of the chain (its creation: when outputs were submitted); `run`, the
    run's status and detail, which a step still open when the run ended follows."""
    first = group[0]
    status = _step_status(record, response, group, following, run[0])
    created = response.get("created_at") or record.created_at
    ended = _ended(record, response, group, following) or created
    step: JSON = {
        "id": step_id(response["id"], first["id"]),
        "object": "thread.run.step",
        "created_at": created,
        "assistant_id": record.assistant_id,
        "thread_id": record.thread_id,
        "run_id": record.id,
        "type": "message_creation" if first.get("type") == "message" else "tool_calls",
        "status": status,
        "step_details": _details(record, group),
        "last_error": _step_error(response) if status == "failed" else None,
        "expired_at": record.expires_at if status == "expired" else None,
        "cancelled_at": (record.cancel_requested_at or ended) if status == "cancelled" else None,
        "failed_at": ended if status == "failed" else None,
        "completed_at": ended if status == "completed" else None,
        "metadata": {},
        "usage": None,
    }
    return step


def _ended(record: RunRecord, response: JSON, group: list[JSON], following: JSON | None) -> int | None:
    """When a step ended: function calls when their outputs went up (the next leg's creation), any other
    step with its response; a response that failed or was cancelled has no time of its own: the run's end."""
    functions = any(item.get("type") == "function_call" for item in group)
    if functions and following is not None:
        return following.get("created_at")
    return response.get("completed_at") or record.ended_at


def _step_status(
    record: RunRecord, response: JSON, group: list[JSON], following: JSON | None, run_status_: str
) -> str:
    """A step's status. A response that was cancelled or failed ends its steps so; a group of function
    calls stays in_progress until its outputs are submitted and the next leg began (as in Assistants,
    where a tool_calls step completes with its outputs); any other step completes with its items or its
    response; a step still open when the run ended follows the run (expired, cancelled, failed)."""
    if response.get("status") in ("cancelled", "failed"):
        return str(response["status"])
    functions = [item for item in group if item.get("type") == "function_call"]
    if functions:
        answered = all(item.get("call_id") in record.tool_outputs for item in functions)
        done = answered and following is not None
    else:
        done = response.get("status") in RESTING or all(item.get("status") == "completed" for item in group)
    if done:
        return "completed"
    return STEP_ENDS.get(run_status_, "in_progress")


STEP_ENDS = {"expired": "expired", "cancelled": "cancelled", "failed": "failed", "incomplete": "cancelled"}
"""A run's end → the status of a step still open at it (a call a run that ran out of tokens will never
answer is cancelled: RunStep has no `incomplete`)."""


def _step_error(response: JSON) -> JSON:
    error = last_error(response.get("error"))
    # A step's last_error knows server_error and rate_limit_exceeded only.
    return {
        **error,
        "code": "rate_limit_exceeded" if error["code"] == "rate_limit_exceeded" else "server_error",
    }


def _details(record: RunRecord, group: list[JSON]) -> JSON:
    if group[0].get("type") == "message":
        return {"type": "message_creation", "message_creation": {"message_id": group[0]["id"]}}
    content = FILE_SEARCH_CONTENT in record.include
    return {"type": "tool_calls", "tool_calls": [tool_call(record, item, content) for item in group]}


def tool_call(record: RunRecord, item: JSON, with_content: bool = False) -> JSON:
    """A step's tool call of a function, file search or code interpreter call item."""
    kind = item.get("type")
    if kind == "function_call":
        function = {"name": item.get("name"), "arguments": item.get("arguments") or ""}
        function["output"] = record.tool_outputs.get(item.get("call_id", ""))
        return {"id": item.get("call_id"), "type": "function", "function": function}
    if kind == "file_search_call":
        results = [_search_result(result, with_content) for result in item.get("results") or []]
        options = _ranking(record.settings)
        return {
            "id": item["id"],
            "type": "file_search",
            "file_search": {"ranking_options": options, "results": results},
        }
    outputs = [
        {"type": "logs", "logs": output.get("logs", "")}
        for output in item.get("outputs") or []
        if output.get("type") == "logs"  # an image output is a URL, a step's is a file id: left out
    ]
    return {
        "id": item["id"],
        "type": "code_interpreter",
        "code_interpreter": {"input": item.get("code") or "", "outputs": outputs},
    }


def _search_result(result: JSON, with_content: bool) -> JSON:
    mapped: JSON = {
        "file_id": result.get("file_id"),
        "file_name": result.get("filename"),
        "score": result.get("score", 0),
    }
    if with_content:
        mapped["content"] = [{"type": "text", "text": result.get("text") or ""}]
    return mapped


def _ranking(settings: JSON) -> JSON:
    for tool in settings.get("tools") or []:
        if tool.get("type") == "file_search":
            ranking = (tool.get("file_search") or {}).get("ranking_options") or {}
            return {"ranker": "auto", "score_threshold": ranking.get("score_threshold", 0)}
    return {"ranker": "auto", "score_threshold": 0}


def step_page(
    steps: list[JSON],
    *,
    limit: int = 20,
    order: str = "desc",
    after: str | None = None,
    before: str | None = None,
) -> JSON:
    """One page of `run_steps` (oldest first) as a ListRunStepsResponse: in `order`, from after the step
    `after`, up to before the step `before`, at most `limit`. A cursor no step has gives an empty page."""
    ordered = steps if order == "asc" else steps[::-1]
    ids = [step["id"] for step in ordered]
    start = ids.index(after) + 1 if after in ids else (len(ids) if after else 0)
    end = ids.index(before) if before in ids else (0 if before else len(ids))
    window = ordered[start:end] if start < end else []
    data = window[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(window) > limit,
    }


# ---- messages ------------------------------------------------------------------------------------------


MESSAGE_INCOMPLETE = {"max_output_tokens": "max_tokens", "content_filter": "content_filter"}
"""A Response's incomplete reason → its message's (MessageObject.incomplete_details.reason)."""


def message_object(
    record: RunRecord,
    item: JSON,
    created_at: int,
    completed_at: int | None = None,
    incomplete_reason: str = "max_tokens",
) -> JSON:
    """The MessageObject of an output message item, written by the run's assistant in the run;
    `incomplete_reason` says why, when the item is incomplete (MESSAGE_INCOMPLETE, or run_cancelled,
    run_failed, run_expired)."""
    status = item.get("status") or "in_progress"
    incomplete = status == "incomplete"
    return {
        "id": item["id"],
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": record.thread_id,
        "status": status,
        "incomplete_details": {"reason": incomplete_reason} if incomplete else None,
        "completed_at": completed_at if status == "completed" else None,
        "incomplete_at": completed_at if incomplete else None,
        "role": "assistant",
        "content": [content_part(part) for part in item.get("content") or []],
        "assistant_id": record.assistant_id,
        "run_id": record.id,
        "attachments": [],
        "metadata": {},
    }


def content_part(part: JSON) -> JSON:
    """A message content part of an output_text or refusal part."""
    if part.get("type") == "refusal":
        return {"type": "refusal", "refusal": part.get("refusal", "")}
    annotations = [a for a in (annotation(x) for x in part.get("annotations") or []) if a is not None]
    return {"type": "text", "text": {"value": part.get("text", ""), "annotations": annotations}}


def annotation(note: JSON) -> JSON | None:
    """A text annotation of a file citation or a file path; a URL or container citation has none (None).
    Responses marks a position (`index`), Assistants a span: both ends at that position, no text."""
    kind = note.get("type")
    if kind not in ("file_citation", "file_path"):
        return None
    index = note.get("index", 0)
    return {
        "type": kind,
        "text": "",
        kind: {"file_id": note.get("file_id")},
        "start_index": index,
        "end_index": index,
    }
