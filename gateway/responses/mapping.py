"""A run as a chain of responses: what the store keeps of it, and the RunObject a client reads of it.

A run is a chain of background responses in the run's conversation (thread = conversation): CreateRun
starts the first, each SubmitToolOutputs the next (`requests`). What the store keeps of a run is a
`RunRecord`; what a client reads is derived from it and the chain's Response objects, as Assistants v2
JSON the gateway's converter turns into its messages: `run_object` here, the steps and messages in
`steps`. Nothing here does I/O. docs/responses.md is the mapping field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

JSON = dict[str, Any]

RESTING = frozenset({"completed", "failed", "cancelled", "incomplete"})
"""The statuses of a response that will not change."""
TERMINAL_RUN = frozenset({"completed", "failed", "cancelled", "incomplete", "expired"})

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
        """The record as JSON (lists for tuples). Its dicts are the record's own, not copies (a record is
        never changed, only replaced): 1 µs, where `dataclasses.asdict`'s deep copy took 41."""
        data = {name: getattr(self, name) for name in _FIELDS}
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

    def with_outputs(self, tool_outputs: list[JSON]) -> RunRecord:
        """The record with SubmitToolOutputs' `tool_outputs` (REST JSON) kept, call id → output."""
        given = {output["tool_call_id"]: output.get("output", "") for output in tool_outputs}
        return _replace(self, tool_outputs={**self.tool_outputs, **given})

    def with_cancel_request(self, now: int) -> RunRecord:
        """The record of a run CancelRun was called on, at `now` (the first call's time is kept)."""
        return self if self.cancel_requested_at is not None else _replace(self, cancel_requested_at=now)

    def with_end(self, now: int) -> RunRecord:
        """The record of a run first seen at rest at `now` (the first sight is kept)."""
        return self if self.ended_at is not None else _replace(self, ended_at=now)


def _replace(record: RunRecord, **changes: Any) -> RunRecord:
    return replace(record, **changes)


_FIELDS = tuple(field.name for field in fields(RunRecord))


def pending_calls(record: RunRecord, responses: list[JSON]) -> list[JSON]:
    """The function calls of the chain's last response that no submitted output answers yet."""
    if not responses or responses[-1].get("status") != "completed":
        return []
    return [
        item
        for item in responses[-1].get("output") or []
        if item.get("type") == "function_call" and item.get("call_id") not in record.tool_outputs
    ]


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


def response_usage(response: JSON) -> JSON:
    """A Response's usage as a run's: input_tokens → prompt_tokens, output_tokens → completion_tokens."""
    usage = response.get("usage") or {}
    prompt, completion = usage.get("input_tokens") or 0, usage.get("output_tokens") or 0
    total = usage.get("total_tokens") or prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def chain_usage(responses: list[JSON]) -> JSON:
    """The usage of the chain: each response's input, output and total tokens, summed."""
    usages = [response_usage(response) for response in responses]
    return {
        name: sum(usage[name] for usage in usages)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
