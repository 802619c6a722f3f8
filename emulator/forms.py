"""How each real server writes its errors, as functions a dialect names: a refusal of the REST API
(`ApiError`) in the server's body, its answer to a path or method it does not serve, and how it reads a
request body (OpenAI's 400s, or the 422 of a FastAPI server's request validation).

The bodies are the servers' own, quoted from their code or from issues that show them; each comment says
where.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.model import JSON, ApiError, Refusal

ErrorForm = Callable[[ApiError], tuple[int, JSON]]
NoRoute = Callable[[str, str, int], tuple[int, JSON]]
BodyReader = Callable[[bytes, str], JSON]

REQUIRED: Mapping[str, tuple[str, ...]] = {
    "CreateAssistant": ("model",),
    "CreateRun": ("assistant_id",),
    "SubmitToolOutputs": ("tool_outputs",),
}
"""The body fields the request models of both FastAPI servers require, per operation (their pydantic
models: open-assistant-api app/models/run.py RunCreate, app/schemas/runs.py; astra-assistants-api
impl/model_v2/create_run_request.py, generated from OpenAI's description)."""


# Refusals of the REST API.


def openai_error(error: ApiError) -> tuple[int, JSON]:
    """OpenAI's `{"error": {"message", "type", "param", "code"}}` (Azure's Assistants APIs answer so too)."""
    return error.status, error.body()


OPEN_ASSISTANT_NOT_FOUND = {
    # app/services: RunService.get_run, ThreadService.get_thread, AssistantService.get_assistant,
    # RunService.get_run_step raise ResourceNotFoundError with these messages.
    "run": "run {} not found",
    "thread": "thread {} not found",
    "assistant": "Assistant not found",
    "run step": "run_step not found",
}


def open_assistant_error(error: ApiError) -> tuple[int, JSON]:
    """open-assistant-api's ErrorResponse (app/providers/response.py): `{"error": {"code", "message",
    "type", "param"}}` in that order; a missing object is ResourceNotFoundError (`resource_not_found`,
    type `not_found_error`), a bad request BadRequestError (`bad_request`, `invalid_request_error`, no
    param): app/exceptions/exception.py."""
    if error.subject is not None:
        kind, name = error.subject
        message = OPEN_ASSISTANT_NOT_FOUND[kind].format(name)
        return 404, _open_assistant("resource_not_found", message, "not_found_error")
    if error.status < 500:
        return error.status, _open_assistant("bad_request", error.message, "invalid_request_error")
    return error.status, _open_assistant("internal_server_error", error.message, "internal_server_error")


ASTRA_NOT_FOUND = {"run": "RunObject", "thread": "ThreadObject", "assistant": "AssistantObject"}


def astra_error(error: ApiError) -> tuple[int, JSON]:
    """astra-assistants-api raises FastAPI's HTTPException: `{"detail": message}`. A missing object is
    impl/utils.py read_object's `f"{target_class.__name__} not found."` (RunObject; the thread's and the
    assistant's go through other code, taken to word it alike)."""
    if error.subject is not None:
        kind, _ = error.subject
        return 404, {"detail": f"{ASTRA_NOT_FOUND.get(kind, 'RunStepObject')} not found."}
    return error.status, {"detail": error.message}


def _open_assistant(code: str, message: str, kind: str | None) -> JSON:
    return {"error": {"code": code, "message": message, "type": kind, "param": None}}


# Paths and methods a server does not serve.


def openai_no_route(method: str, path: str, status: int) -> tuple[int, JSON]:
    """OpenAI: a 404 `Invalid URL (METHOD /path)`, for an unknown method as well."""
    return 404, ApiError(404, f"Invalid URL ({method} {path})").body()


def azure_no_route(method: str, path: str, status: int) -> tuple[int, JSON]:
    """Azure's `Resource not found` (ThinkInAIXYZ/deepchat#262, ai-shifu/ChatALL#305; seen on Azure
    OpenAI, taken to be the Foundry front door's too)."""
    return 404, {"error": {"code": "404", "message": "Resource not found"}}


def open_assistant_no_route(method: str, path: str, status: int) -> tuple[int, JSON]:
    """open-assistant-api's handler of Starlette's HTTPException (app/providers/handle_exception.py):
    `ErrorResponse(e.status_code, "http_error", e.detail)`, a 404 or a 405 as Starlette decided."""
    message = "Method Not Allowed" if status == 405 else "Not Found"
    return status, _open_assistant("http_error", message, None)


def astra_no_route(method: str, path: str, status: int) -> tuple[int, JSON]:
    """astra-assistants-api's catch-all route (impl/main.py, `/{full_path:path}` for every method): any
    path or method without a route of its own, such as cancelling a run or listing its steps, is a 501."""
    return 501, {"message": "This feature is not yet implemented"}


# Reading a request body.


def openai_body(raw: bytes, operation: str) -> JSON:
    """OpenAI: the body a JSON object (none at all is `{}`); what it holds the store checks."""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "We could not parse the JSON body of your request.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "The body of your request must be a JSON object.")
    return body


@dataclass(frozen=True)
class FastApiBody:
    """A FastAPI server's request validation (fastapi/routing.py, with pydantic 2): a body that is not
    JSON, not an object, or lacks a required field is refused with a 422 written by `form`, from
    FastAPI's error list (`type`, `loc`, `msg`, `input`, as `exc.errors()` gives them); a body it admits
    goes on to the store's checks."""

    form: Callable[[list[JSON]], tuple[int, JSON]]
    required: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: REQUIRED)

    def __call__(self, raw: bytes, operation: str) -> JSON:
        needed = self.required.get(operation, ())
        errors, body = self._read(raw, bool(needed))
        if not errors:
            missing = [name for name in needed if name not in body]
            errors = [_error("missing", ("body", name), "Field required", body) for name in missing]
        if errors:
            raise Refusal(*self.form(errors))
        return body

    @staticmethod
    def _read(raw: bytes, required: bool) -> tuple[list[JSON], JSON]:
        if not raw:
            return ([_error("missing", ("body",), "Field required", None)] if required else []), {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            # fastapi/routing.py: {"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode
            # error", "input": {}, "ctx": {"error": e.msg}}.
            error = _error("json_invalid", ("body", exc.pos), "JSON decode error", {})
            return [{**error, "ctx": {"error": exc.msg}}], {}
        if not isinstance(body, dict):
            message = "Input should be a valid dictionary or object to extract fields from"
            return [_error("model_attributes_type", ("body",), message, body)], {}
        return [], body


def _error(kind: str, loc: tuple[Any, ...], message: str, given: Any) -> JSON:
    return {"type": kind, "loc": loc, "msg": message, "input": given}


def fastapi_default(errors: list[JSON]) -> tuple[int, JSON]:
    """FastAPI's own 422, which astra-assistants-api writes (impl/main.py, validation_exception_handler):
    `{"detail": exc.errors()}`, each `loc` a JSON array."""
    return 422, {"detail": [{**error, "loc": list(error["loc"])} for error in errors]}


def open_assistant_validation(errors: list[JSON]) -> tuple[int, JSON]:
    """open-assistant-api's (app/providers/handle_exception.py): `ErrorResponse(422,
    "request_validation_error", str(e))`. With its FastAPI (0.109 to 0.112) `str(e)` is the `str()` of
    the error list, a Python repr: `[{'type': 'missing', 'loc': ('body', 'assistant_id'), ...}]`."""
    return 422, _open_assistant("request_validation_error", str(errors), None)
