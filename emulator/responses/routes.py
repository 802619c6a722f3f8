"""The HTTP side of the Responses and Conversations APIs: one handler per operation and the route table the
app mounts under the dialect's base path, beside the Assistants routes (`app.api` wraps each: the Bearer
key, the log, faults, latency and OpenAI's error bodies; no `OpenAI-Beta` header is asked for).

`"stream": true` on creating a response, or `GET /responses/{id}?stream=true&starting_after=N` on a
background one, answers its events (`responses.stream`), counted as the Assistants streams are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from emulator import stream
from emulator.model import JSON, ApiError, list_page
from emulator.responses import stream as events
from emulator.responses.items import shown
from emulator.responses.model import ResponseState
from emulator.responses.requests import flag, include

if TYPE_CHECKING:
    from emulator.app import Emulator

Handler = Callable[[Request, "Emulator"], Awaitable[Any]]


async def _body(request: Request, e: Emulator) -> JSON:
    return e.dialect.read_body(await request.body(), request.state.operation)


def _p(request: Request, name: str) -> str:
    return str(request.path_params[name])


def _include(request: Request) -> frozenset[str]:
    query = request.query_params
    return include([*query.getlist("include[]"), *query.getlist("include")], "include")


def _list(items: list[JSON], has_more: bool, shown_fields: frozenset[str]) -> JSON:
    return list_page([shown(entry, shown_fields) for entry in items], has_more)


def _streamed(request: Request, e: Emulator, state: ResponseState, after: int) -> Response:
    return stream.counted(
        request, e.streams, lambda fault, sent: events.events(e.responses, state, after, fault, sent)
    )


# Responses.


async def create_response(request: Request, e: Emulator) -> JSON | Response:
    body = await _body(request, e)
    streamed = flag(body, "stream")
    state = e.responses.create_response(body)
    return _streamed(request, e, state, -1) if streamed else e.responses.lifecycle.render(state)


async def get_response(request: Request, e: Emulator) -> JSON | Response:
    state = e.responses.response(_p(request, "response_id"))
    query = request.query_params
    if query.get("stream") != "true":
        return e.responses.lifecycle.render(state)
    if not state.obj["background"]:
        raise ApiError(
            400, "Only responses created with background=true can be streamed again.", param="stream"
        )
    after = query.get("starting_after", "-1")
    if not after.lstrip("-").isdigit():
        raise ApiError(
            400, f"Invalid 'starting_after': expected an integer, got '{after}'.", param="starting_after"
        )
    return _streamed(request, e, state, int(after))


async def delete_response(request: Request, e: Emulator) -> JSON:
    return e.responses.delete(_p(request, "response_id"))


async def cancel_response(request: Request, e: Emulator) -> JSON:
    return e.responses.lifecycle.render(e.responses.cancel(_p(request, "response_id")))


async def list_input_items(request: Request, e: Emulator) -> JSON:
    page = e.responses.input_items(_p(request, "response_id"), dict(request.query_params))
    return _list(*page, _include(request))


# Conversations.


async def create_conversation(request: Request, e: Emulator) -> JSON:
    return e.responses.create_conversation(await _body(request, e))


async def get_conversation(request: Request, e: Emulator) -> JSON:
    return e.responses.conversation(_p(request, "conversation_id")).obj


async def update_conversation(request: Request, e: Emulator) -> JSON:
    return e.responses.update_conversation(_p(request, "conversation_id"), await _body(request, e))


async def delete_conversation(request: Request, e: Emulator) -> JSON:
    return e.responses.delete_conversation(_p(request, "conversation_id"))


async def create_items(request: Request, e: Emulator) -> JSON:
    added = e.responses.add_items(_p(request, "conversation_id"), await _body(request, e))
    return _list(added, False, _include(request))


async def list_items(request: Request, e: Emulator) -> JSON:
    page = e.responses.list_items(_p(request, "conversation_id"), dict(request.query_params))
    return _list(*page, _include(request))


async def get_item(request: Request, e: Emulator) -> JSON:
    found = e.responses.item(_p(request, "conversation_id"), _p(request, "item_id"))
    return shown(found, _include(request))


async def delete_item(request: Request, e: Emulator) -> JSON:
    return e.responses.delete_item(_p(request, "conversation_id"), _p(request, "item_id"))


RESPONSE = "/responses/{response_id}"
CONVERSATION = "/conversations/{conversation_id}"
ROUTES: list[tuple[str, str, str, Handler]] = [
    ("CreateResponse", "POST", "/responses", create_response),
    ("GetResponse", "GET", RESPONSE, get_response),
    ("DeleteResponse", "DELETE", RESPONSE, delete_response),
    ("CancelResponse", "POST", RESPONSE + "/cancel", cancel_response),
    ("ListInputItems", "GET", RESPONSE + "/input_items", list_input_items),
    ("CreateConversation", "POST", "/conversations", create_conversation),
    ("GetConversation", "GET", CONVERSATION, get_conversation),
    ("UpdateConversation", "POST", CONVERSATION, update_conversation),
    ("DeleteConversation", "DELETE", CONVERSATION, delete_conversation),
    ("CreateConversationItems", "POST", CONVERSATION + "/items", create_items),
    ("ListConversationItems", "GET", CONVERSATION + "/items", list_items),
    ("GetConversationItem", "GET", CONVERSATION + "/items/{item_id}", get_item),
    ("DeleteConversationItem", "DELETE", CONVERSATION + "/items/{item_id}", delete_item),
]
"""The Responses and Conversations REST API: (operation, method, path under the base path, handler)."""
