"""The CreateResponse bodies of a run's legs: the first from CreateRun, each next from SubmitToolOutputs.

Every leg is a background response in the run's conversation with the run's settings (a response carries
none over to the next), its tools, tool choice, response format and truncation mapped from their
Assistants shapes. What the Responses API cannot carry out as the Assistants API would is refused
(`Unmappable`, INVALID_ARGUMENT with a stable reason); docs/responses.md says what and why.
"""

from __future__ import annotations

from gateway.responses.mapping import JSON, RunRecord, chain_usage, pending_calls

MIN_OUTPUT_TOKENS = 16
"""CreateResponse's `max_output_tokens` minimum."""


class Unmappable(ValueError):
    """A request the Responses API cannot carry out as the Assistants API would: refused with
    INVALID_ARGUMENT, `reason` its stable ErrorInfo reason, `field` the request field."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


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
    the chain so far becomes `max_output_tokens`. Raises Unmappable unless the outputs answer exactly the
    calls the run waits for, as the Assistants API refuses any other set."""
    _check_outputs(pending_calls(record, responses), tool_outputs)
    budget = record.settings.get("max_completion_tokens")
    if budget is not None:
        budget -= chain_usage(responses)["completion_tokens"]
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


def _check_outputs(pending: list[JSON], tool_outputs: list[JSON]) -> None:
    waited = [call["call_id"] for call in pending]
    given = [str(output.get("tool_call_id")) for output in tool_outputs]
    if sorted(waited) != sorted(given):
        raise Unmappable(
            "TOOL_OUTPUTS_DO_NOT_MATCH",
            "tool_outputs",
            f"the run waits for the outputs of {sorted(waited)}, all in one call; given {given}",
        )


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
