"""Items, the unit of the Responses and Conversations APIs: reading the ones a request gives (`input`, a
conversation's `items`) into the items the emulator keeps, and building the ones the emulated model writes.

A request's item is kept as OpenAI keeps it: given an id (`msg_`, `fc_`, `fco_`) and a status, a message's
string content turned into one `input_text` part (`output_text` for an assistant's). The kinds read are
messages (the short `{"role", "content"}` form too), `function_call` and `function_call_output`; another
kind is refused with OpenAI's 400 naming its `type`.
"""

from __future__ import annotations

from typing import Any

from emulator.checks import a_string, an_array, an_object, one_of, refuse, required, wrong_type
from emulator.model import JSON, new_id

ROLES = ("user", "assistant", "system", "developer")
INPUT_PARTS = ("input_text", "input_image", "input_file")
ITEM_TYPES = ("message", "function_call", "function_call_output")
PREFIXES = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "file_search_call": "fs_",
    "code_interpreter_call": "ci_",
}


def input_items(value: Any, where: str = "input") -> list[JSON]:
    """A request's `input` (a string: one user message; or an array of items) as kept items."""
    if value is None:
        return []
    if isinstance(value, str):
        return [message("user", [{"type": "input_text", "text": value}], "completed")]
    if not isinstance(value, list):
        raise wrong_type(where, "a string or an array", value)
    return [item(entry, f"{where}[{index}]") for index, entry in enumerate(value)]


def item(value: Any, where: str) -> JSON:
    """One item of a request, as the emulator keeps it."""
    given = an_object(value, where)
    kind = one_of(given.get("type", "message"), ITEM_TYPES, f"{where}.type")
    if kind == "message":
        return _message(given, where)
    if kind == "function_call":
        return {
            "id": given.get("id") or new_id(PREFIXES[kind]),
            "type": kind,
            "status": "completed",
            "call_id": a_string(required(given, "call_id", where), f"{where}.call_id"),
            "name": a_string(required(given, "name", where), f"{where}.name"),
            "arguments": a_string(required(given, "arguments", where), f"{where}.arguments"),
        }
    output = required(given, "output", where)
    if not isinstance(output, str | list):
        raise wrong_type(f"{where}.output", "a string or an array", output)
    return {
        "id": new_id(PREFIXES[kind]),
        "type": kind,
        "status": "completed",
        "call_id": a_string(required(given, "call_id", where), f"{where}.call_id"),
        "output": output,
    }


def _message(given: JSON, where: str) -> JSON:
    role = one_of(required(given, "role", where), ROLES, f"{where}.role")
    content = required(given, "content", where)
    text_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        return message(role, [_text_part(text_type, content)], "completed")
    parts = an_array(content, f"{where}.content")
    allowed = (*INPUT_PARTS, "output_text", "refusal") if role == "assistant" else INPUT_PARTS
    kept = []
    for index, part in enumerate(parts):
        at = f"{where}.content[{index}]"
        kind = one_of(required(an_object(part, at), "type", at), allowed, f"{at}.type")
        if kind in ("input_text", "output_text"):
            kept.append(_text_part(kind, a_string(required(part, "text", at), f"{at}.text")))
        else:
            kept.append(dict(part))
    return message(role, kept, "completed")


def _text_part(kind: str, text: str) -> JSON:
    return output_text(text) if kind == "output_text" else {"type": "input_text", "text": text}


def message(role: str, content: list[JSON], status: str) -> JSON:
    """A message item."""
    return {"id": new_id("msg_"), "type": "message", "status": status, "role": role, "content": content}


def output_text(text: str) -> JSON:
    """An `output_text` content part, as the model writes it."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call(name: str, arguments: str) -> JSON:
    """A `function_call` output item: the model asking for a function's result."""
    return {
        "id": new_id(PREFIXES["function_call"]),
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "call_id": new_id("call_"),
        "name": name,
    }


def check_outputs(context: list[JSON], given: list[JSON]) -> None:
    """Refuse a `function_call_output` whose `call_id` no `function_call` before it has, as OpenAI does."""
    calls = {entry["call_id"] for entry in context if entry["type"] == "function_call"}
    for entry in given:
        if entry["type"] == "function_call":
            calls.add(entry["call_id"])
        elif entry["type"] == "function_call_output" and entry["call_id"] not in calls:
            raise refuse(
                "input",
                f"No tool call found for function call output with call_id {entry['call_id']}.",
                None,
            )


def texts(entries: list[JSON]) -> list[str]:
    """The text of each text part of the messages among `entries`."""
    return [
        part["text"]
        for entry in entries
        if entry["type"] == "message"
        for part in entry["content"]
        if part.get("type") in ("input_text", "output_text")
    ]


def shown(entry: JSON, include: frozenset[str]) -> JSON:
    """An item as an answer shows it: a built-in call's results and outputs only when `include` asks."""
    if entry["type"] == "file_search_call" and "file_search_call.results" not in include:
        return {**entry, "results": None}
    if entry["type"] == "code_interpreter_call" and "code_interpreter_call.outputs" not in include:
        return {**entry, "outputs": None}
    return entry
