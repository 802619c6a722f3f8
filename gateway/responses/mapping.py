"""Runs as chains of responses: the CreateResponse bodies of a run's legs, and the run and steps of a chain.

A run is a chain of background responses in the run's conversation (thread = conversation): CreateRun
starts the first (`response_request`), each SubmitToolOutputs the next (`tool_outputs_request`, its
`function_call_output` items sent into the same conversation). What the store keeps of a run is a
`RunRecord`; what a client reads is derived from it and the chain's Response objects, as Assistants v2
JSON the gateway's converter turns into its messages: `run_object` (a RunObject), `run_steps` (RunStepObjects
with ids that depend only on the items they describe) and `message_object`. Nothing here does I/O.
docs/responses.md is the mapping field by field, with what cannot be mapped and why.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

JSON = dict[str, Any]

MIN_OUTPUT_TOKENS = 16
"""CreateResponse's `max_output_tokens` minimum."""
RESTING = frozenset({"completed", "failed", "cancelled", "incomplete"})
"""The statuses of a response that will not change."""
TERMINAL_RUN = frozenset({"completed", "failed", "cancelled", "incomplete", "expired"})
TOOL_ITEMS = frozenset({"function_call", "file_search_call", "code_interpreter_call"})
"""Output items that are tool calls of a `tool_calls` step; consecutive ones (other items between them
aside) are one step."""
STEP_BREAKS = frozenset({"message"})
"""Output items that end a group of tool calls. Items of no step (reasoning, web search ...) do not."""

ERROR_CODES: dict[str, str] = {
    "server_error": "server_error",
    "rate_limit_exceeded": "rate_limit_exceeded",
    "invalid_prompt": "invalid_prompt",
    "bio_policy": "invalid_prompt",
    "vector_store_timeout": "server_error",
    "data_residency_mismatch": "server_error",
}
"""A Response's `error.code` → the run's `last_error.code` (server_error, rate_limit_exceeded or
invalid_prompt). Every image code (`invalid_image`, `image_too_large` ...) is a fault of the input:
invalid_prompt; any other code, server_error. The upstream code is kept in the message."""
INCOMPLETE_REASONS = {"max_output_tokens": "max_completion_tokens"}
"""A Response's `incomplete_details.reason` → the run's. `content_filter` has no run reason: it is passed on
as it is (a gRPC client reads INCOMPLETE_REASON_UNSPECIFIED) and the message says `content_filter`."""
FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


class Unmappable(ValueError):
    """A request the Responses API cannot carry out as the Assistants API would: refused with
    INVALID_ARGUMENT, `reason` its stable ErrorInfo reason, `field` the request field."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What the store keeps of a run, an opaque JSON document to it (`to_json` / `from_json`).

    `responses`: the chain's response ids, in order; `tool_outputs`: every output submitted, call id →
    output; `cancel_requested_at` and `ended_at`: when CancelRun was called and when the adapter first saw
    the run at rest (failed and cancelled responses carry no time of their own); `include`: CreateRun's
    `include[]`.
    """

    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    settings: JSON
    responses: tuple[str, ...] = ()
    tool_outputs: dict[str, str] = field(default_factory=dict)
    cancel_requested_at: int | None = None
    ended_at: int | None = None
    expires_at: int | None = None
    include: tuple[str, ...] = ()

    def to_json(self) -> JSON:
        """The record as JSON (lists for tuples)."""
        data = asdict(self)
        data["responses"], data["include"] = list(self.responses), list(self.include)
        return data

    @classmethod
    def from_json(cls, data: JSON) -> RunRecord:
        """The record of `to_json`'s JSON; a key it does not know is refused (a record of a newer gateway)."""
        unknown = set(data) - set(cls.__slots__)
        if unknown:
            raise ValueError(f"run record with unknown fields: {sorted(unknown)}")
        values = dict(data)
        values["responses"] = tuple(values.get("responses", ()))
        values["include"] = tuple(values.get("include", ()))
        values["tool_outputs"] = dict(values.get("tool_outputs", {}))
        return cls(**values)

    def with_response(self, response_id: str) -> RunRecord:
        """The record with the next leg's response appended to the chain."""
        return _replace(self, responses=(*self.responses, response_id))


def _replace(record: RunRecord, **changes: Any) -> RunRecord:
    return RunRecord.from_json({**record.to_json(), **changes})


# ---- requests -----------------------------------------------------------------------------------------


def response_request(
    settings: JSON, conversation_id: str, additional_messages: list[JSON] | None = None
) -> JSON:
    """The CreateResponse body of a run's first leg: its settings, in the conversation, in the background,
    the CreateRun request's `additional_messages` as input items. Raises Unmappable."""
    body = _leg(settings, conversation_id, settings.get("max_completion_tokens"))
    items = [_input_message(n, message) for n, message in enumerate(additional_messages or [])]
    if items:
        body["input"] = items
    return body


def tool_outputs_request(record: RunRecord, responses: list[JSON], tool_outputs: list[JSON]) -> JSON:
    """The CreateResponse body of the leg after a SubmitToolOutputs: `function_call_output` items (call_id →
    output) into the run's conversation, with the run's settings again (a response carries none over).

    The conversation, not `previous_response_id` (the API refuses both at once): the outputs and what
    follows must be items of the thread, as the Assistants API adds them to it. The token budget left by
    the chain so far becomes `max_output_tokens`."""
    budget = record.settings.get("max_completion_tokens")
    if budget is not None:
        budget -= sum(_usage(r)["completion_tokens"] for r in responses)
    body = _leg(record.settings, record.thread_id, budget)
    body["input"] = [
        {
            "type": "function_call_output",
            "call_id": output["tool_call_id"],
            "output": output.get("output", ""),
        }
        for output in tool_outputs
    ]
    return body


def pending_calls(record: RunRecord, responses: list[JSON]) -> list[JSON]:
    """The function calls of the chain's last response that no submitted output answers yet."""
    if not responses or responses[-1].get("status") != "completed":
        return []
    return [
        item
        for item in responses[-1].get("output") or []
        if item.get("type") == "function_call" and item.get("call_id") not in record.tool_outputs
    ]


def _leg(settings: JSON, conversation_id: str, max_output_tokens: int | None) -> JSON:
    tools = [_tool(tool, settings.get("tool_resources") or {}) for tool in settings.get("tools") or []]
    body: JSON = {
        "model": settings["model"],
        "background": True,
        "store": True,
        "conversation": conversation_id,
        "tools": tools,
        "tool_choice": _tool_choice(settings.get("tool_choice") or "auto"),
        "parallel_tool_calls": settings.get("parallel_tool_calls", True),
        "truncation": _truncation(settings.get("truncation_strategy")),
        "metadata": dict(settings.get("metadata") or {}),
    }
    optional = {
        "instructions": settings.get("instructions"),
        "temperature": settings.get("temperature"),
        "top_p": settings.get("top_p"),
        "text": _text(settings.get("response_format") or "auto"),
        "reasoning": {"effort": settings["reasoning_effort"]} if settings.get("reasoning_effort") else None,
        "include": _include(tools) or None,
        "max_output_tokens": None if max_output_tokens is None else max(MIN_OUTPUT_TOKENS, max_output_tokens),
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def _tool(tool: JSON, resources: JSON) -> JSON:
    kind = tool.get("type")
    if kind == "function":
        function = tool["function"]
        mapped = {"type": "function", "name": function["name"]}
        if function.get("description") is not None:
            mapped["description"] = function["description"]
        # Omitted parameters are an empty parameter list in Assistants; Responses makes functions strict
        # unless told, Assistants does not: both said explicitly.
        mapped["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        mapped["strict"] = bool(function.get("strict", False))
        return mapped
    if kind == "file_search":
        return _file_search(tool.get("file_search") or {}, resources)
    if kind == "code_interpreter":
        files = (resources.get("code_interpreter") or {}).get("file_ids") or []
        return {"type": "code_interpreter", "container": {"type": "auto", "file_ids": list(files)}}
    raise Unmappable("TOOL_UNSUPPORTED", "tools", f"a tool of type {kind!r} has no Responses counterpart")


def _file_search(options: JSON, resources: JSON) -> JSON:
    stores = (resources.get("file_search") or {}).get("vector_store_ids") or []
    if not stores:
        raise Unmappable(
            "FILE_SEARCH_WITHOUT_VECTOR_STORES",
            "tools",
            "file_search needs vector stores: the Responses API takes them on the tool, from the assistant's "
            "tool_resources.file_search.vector_store_ids in the assistants file",
        )
    mapped: JSON = {"type": "file_search", "vector_store_ids": list(stores)}
    if options.get("max_num_results") is not None:
        mapped["max_num_results"] = options["max_num_results"]
    ranking = options.get("ranking_options") or {}
    if ranking:
        # Assistants' rankers (auto, default_2024_08_21) are not Responses' (auto, default-2024-11-15):
        # only the threshold is carried, the ranker left to the upstream default (auto).
        mapped["ranking_options"] = {"score_threshold": ranking.get("score_threshold", 0)}
    return mapped


def _tool_choice(choice: str | JSON) -> str | JSON:
    if isinstance(choice, str):
        return choice
    if choice.get("type") == "function":
        return {"type": "function", "name": (choice.get("function") or {}).get("name")}
    return {"type": choice.get("type")}


def _truncation(strategy: JSON | None) -> str:
    kind = (strategy or {}).get("type", "auto")
    if kind == "last_messages":
        raise Unmappable(
            "TRUNCATION_LAST_MESSAGES_UNSUPPORTED",
            "truncation_strategy",
            "truncation_strategy last_messages cannot be served by the Responses API, whose truncation is "
            "auto or disabled: use auto",
        )
    return "auto"


def _text(response_format: str | JSON) -> JSON | None:
    if response_format == "auto" or not isinstance(response_format, dict):
        return None
    if response_format.get("type") != "json_schema":
        return {"format": {"type": response_format.get("type")}}
    schema = response_format.get("json_schema") or {}
    fmt: JSON = {"type": "json_schema", "name": schema.get("name"), "schema": schema.get("schema") or {}}
    fmt.update({k: schema[k] for k in ("description", "strict") if schema.get(k) is not None})
    return {"format": fmt}


def _include(tools: list[JSON]) -> list[str]:
    """What a step needs from the output items: file search results, code interpreter outputs."""
    kinds = {tool["type"] for tool in tools}
    wanted = {"file_search": "file_search_call.results", "code_interpreter": "code_interpreter_call.outputs"}
    return [include for kind, include in wanted.items() if kind in kinds]


def _input_message(index: int, message: JSON) -> JSON:
    where = f"additional_messages[{index}]"
    if message.get("attachments"):
        raise Unmappable(
            "ATTACHMENTS_UNSUPPORTED",
            f"{where}.attachments",
            "attachments add files to the thread's tool resources, which a conversation does not have: "
            "give the assistant its files in the assistants file",
        )
    role = message.get("role")
    content = message.get("content")
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    if role == "assistant":
        if any(part.get("type") != "text" for part in parts):
            raise Unmappable(
                "ASSISTANT_IMAGE_UNSUPPORTED", f"{where}.content", "an assistant message is text"
            )
        return {"type": "message", "role": "assistant", "content": "".join(p["text"] for p in parts)}
    return {"type": "message", "role": "user", "content": [_input_part(part) for part in parts]}


def _input_part(part: JSON) -> JSON:
    kind = part.get("type")
    if kind == "text":
        return {"type": "input_text", "text": part.get("text", "")}
    image = part.get(kind or "") or {}
    mapped: JSON = {"type": "input_image", "detail": image.get("detail") or "auto"}
    mapped["file_id" if kind == "image_file" else "image_url"] = image.get("file_id") or image.get("url")
    return mapped


# ---- the run of a chain ---------------------------------------------------------------------------------


def run_object(record: RunRecord, responses: list[JSON], now: int) -> JSON:
    """The Assistants v2 RunObject of a run: its record, its chain's Response objects (in order; the last
    may still be in progress) and the time now (for `expires_at`)."""
    status, detail = run_status(record, responses, now)
    settings = record.settings
    terminal = status in TERMINAL_RUN
    last = responses[-1] if responses else {}
    ended = record.ended_at or last.get("completed_at") or last.get("created_at") or record.created_at
    run: JSON = {
        "id": record.id,
        "object": "thread.run",
        "created_at": record.created_at,
        "thread_id": record.thread_id,
        "assistant_id": record.assistant_id,
        "status": status,
        "required_action": _required_action(record, responses) if status == "requires_action" else None,
        "last_error": detail if status == "failed" else None,
        "expires_at": None if terminal else record.expires_at,
        "started_at": _started_at(responses),
        "cancelled_at": (record.cancel_requested_at or ended) if status == "cancelled" else None,
        "failed_at": ended if status == "failed" else None,
        "completed_at": (last.get("completed_at") or ended) if status == "completed" else None,
        "incomplete_details": detail if status == "incomplete" else None,
        "usage": chain_usage(responses) if terminal else None,
    }
    for name in ("model", "instructions", "tools", "metadata", "temperature", "top_p", "max_prompt_tokens"):
        run[name] = settings.get(name)
    run["max_completion_tokens"] = settings.get("max_completion_tokens")
    run["truncation_strategy"] = settings.get("truncation_strategy")
    run["tool_choice"] = settings.get("tool_choice", "auto")
    run["parallel_tool_calls"] = settings.get("parallel_tool_calls", True)
    run["response_format"] = settings.get("response_format", "auto")
    return run


def run_status(record: RunRecord, responses: list[JSON], now: int) -> tuple[str, JSON | None]:
    """The run's status, with its `last_error` (failed) or `incomplete_details` (incomplete)."""
    status, detail = _chain_status(record, responses)
    # A response the adapter cancelled because the run expired (no CancelRun asked for it) is the expiry.
    expiring = status in ACTIVE or (status == "cancelled" and record.cancel_requested_at is None)
    if expiring and _expired(record, now):
        return "expired", None
    return status, detail


ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
"""The statuses of a run that may still expire."""


def _chain_status(record: RunRecord, responses: list[JSON]) -> tuple[str, JSON | None]:
    last: JSON = responses[-1] if responses else {"status": "queued"}
    status = last.get("status") or "queued"
    if status in ("queued", "in_progress"):
        return ("cancelling" if record.cancel_requested_at is not None else status), None
    if status == "failed":
        return "failed", last_error(last.get("error"))
    if status == "incomplete":
        reason = (last.get("incomplete_details") or {}).get("reason") or "max_output_tokens"
        return "incomplete", {"reason": INCOMPLETE_REASONS.get(reason, reason)}
    if status == "cancelled":
        return "cancelled", None
    if not pending_calls(record, responses):
        return "completed", None
    if record.cancel_requested_at is not None:
        return "cancelled", None  # waiting for outputs, nothing in flight: cancelled at once
    return _over_budget(record.settings, responses) or ("requires_action", None)


def _over_budget(settings: JSON, responses: list[JSON]) -> tuple[str, JSON] | None:
    """A run about to need another leg that has spent its prompt or completion tokens ends incomplete, as
    the Assistants API ends a run "across multiple turns" past either limit."""
    usage = chain_usage(responses)
    for limit, used in (
        ("max_prompt_tokens", "prompt_tokens"),
        ("max_completion_tokens", "completion_tokens"),
    ):
        bound = settings.get(limit)
        if bound is not None and usage[used] >= bound:
            return "incomplete", {"reason": limit}
    return None


def _expired(record: RunRecord, now: int) -> bool:
    return record.expires_at is not None and now >= record.expires_at


def last_error(error: JSON | None) -> JSON:
    """A Response's `error` as a run's `last_error`: the code mapped (ERROR_CODES), the upstream's code
    kept at the head of the message when it is not the same."""
    error = error or {}
    code = str(error.get("code") or "server_error")
    mapped = ERROR_CODES.get(code, "invalid_prompt" if "image" in code else "server_error")
    message = str(error.get("message") or "the response failed")
    return {"code": mapped, "message": message if mapped == code else f"{code}: {message}"}


def _required_action(record: RunRecord, responses: list[JSON]) -> JSON:
    calls = [
        {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]},
        }
        for item in pending_calls(record, responses)
    ]
    return {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}


def _started_at(responses: list[JSON]) -> int | None:
    started = [r for r in responses if r.get("status") != "queued"]
    return started[0].get("created_at") if started else None


def _usage(response: JSON) -> JSON:
    usage = response.get("usage") or {}
    prompt, completion = usage.get("input_tokens") or 0, usage.get("output_tokens") or 0
    total = usage.get("total_tokens") or prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def chain_usage(responses: list[JSON]) -> JSON:
    """The usage of the chain: each response's input, output and total tokens, summed."""
    usages = [_usage(response) for response in responses]
    return {
        name: sum(usage[name] for usage in usages)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens")
    }


# ---- steps ---------------------------------------------------------------------------------------------


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
                step["usage"] = _usage(response)  # a response's usage, on the step that ended it
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
    ended = (following or {}).get("created_at") or response.get("completed_at") or record.ended_at or created
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
