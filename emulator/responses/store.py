"""The in-memory store of the Responses and Conversations APIs, and the operations their REST API performs.
It knows nothing of HTTP: operations take REST-shaped dicts, return the kept objects, and refuse bad input
with `ApiError` (OpenAI's error body, written by the app).

What it does as OpenAI does: a response's context is the previous response's (its context, input and
output) or its conversation's items, never both (`previous_response_id` and `conversation` together are a
400); a response that ran in a conversation adds its input then its output to the conversation's items
once it ends (`completed` or `incomplete`); `store: false` keeps a foreground response nowhere (a
background one is kept, to be polled); only a background response can be cancelled, and cancelling one that
has ended answers it unchanged; a response is found again only while kept (404 once deleted).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from emulator.checks import an_array, refuse, required
from emulator.model import JSON, ApiError, Listing, new_id, now
from emulator.responses.items import check_outputs, input_items
from emulator.responses.lifecycle import Lifecycle
from emulator.responses.model import Conversation, ResponseState, response_object
from emulator.responses.requests import conversation_id, include, known, settings
from emulator.validation import metadata

MAX_ITEMS = 20
"""The items a request may add to a conversation at once."""


class ResponsesStore:
    """Every response and conversation, in memory, and the operations of the REST API on them."""

    def __init__(
        self, step_seconds: float = 0.05, clock: Callable[[], float] = time.monotonic, reply_deltas: int = 0
    ) -> None:
        self.step_seconds = step_seconds
        self.lifecycle = Lifecycle(step_seconds, clock, reply_deltas)
        self.responses: dict[str, ResponseState] = {}
        self.conversations: dict[str, Conversation] = {}

    # Conversations.

    def create_conversation(self, body: JSON) -> JSON:
        known(body, {"metadata", "items"})
        conversation = Conversation(
            {
                "id": new_id("conv_"),
                "object": "conversation",
                "created_at": now(),
                "metadata": metadata(body.get("metadata") or {}),
            }
        )
        for entry in _items(body.get("items") or [], "items"):
            conversation.items.add(entry)
        self.conversations[conversation.obj["id"]] = conversation
        return conversation.obj

    def conversation(self, conversation_id: str) -> Conversation:
        if conversation_id not in self.conversations:
            raise ApiError(
                404,
                f"Conversation with id '{conversation_id}' not found.",
                subject=("conversation", conversation_id),
            )
        return self.conversations[conversation_id]

    def update_conversation(self, conversation_id: str, body: JSON) -> JSON:
        conversation = self.conversation(conversation_id)
        known(body, {"metadata"})
        conversation.obj["metadata"] = metadata(required(body, "metadata", ""))
        return conversation.obj

    def delete_conversation(self, conversation_id: str) -> JSON:
        self.conversation(conversation_id)
        del self.conversations[conversation_id]
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    def add_items(self, conversation_id: str, body: JSON) -> list[JSON]:
        """Items added to a conversation (up to 20), as kept."""
        conversation = self.conversation(conversation_id)
        known(body, {"items"})
        added = _items(required(body, "items", ""), "items")
        check_outputs(conversation.items.items, added)
        for entry in added:
            conversation.items.add(entry)
        return added

    def list_items(self, conversation_id: str, query: JSON) -> tuple[list[JSON], bool]:
        return _page(self.conversation(conversation_id).items, query)

    def item(self, conversation_id: str, item_id: str) -> JSON:
        items = self.conversation(conversation_id).items
        if item_id not in items.index:
            raise ApiError(404, f"Item with id '{item_id}' not found.", subject=("item", item_id))
        return items.items[items.index[item_id]]

    def delete_item(self, conversation_id: str, item_id: str) -> JSON:
        """Remove an item; answers the conversation, as OpenAI does."""
        self.item(conversation_id, item_id)
        conversation = self.conversations[conversation_id]
        kept = [entry for entry in conversation.items.items if entry["id"] != item_id]
        conversation.items = Listing()
        for entry in kept:
            conversation.items.add(entry)
        return conversation.obj

    # Responses.

    def create_response(self, body: JSON) -> ResponseState:
        """A new response, run to its end (foreground) or queued (background)."""
        fields = settings(body)
        shown = include(list(body.get("include") or []))
        in_conversation = conversation_id(body.get("conversation"))
        previous = fields["previous_response_id"]
        if in_conversation is not None and previous is not None:
            raise ApiError(
                400,
                "Mutually exclusive parameters: Ensure you are only providing one of: "
                "'previous_response_id' or 'conversation'.",
            )
        conversation = self.conversation(in_conversation) if in_conversation else None
        context = self._context(previous, conversation)
        given = input_items(body.get("input"))
        check_outputs(context, given)
        obj = response_object(fields, str(body["model"]), in_conversation)
        state = ResponseState(obj, given, context, conversation, shown)
        if fields["store"] or fields["background"]:
            self.responses[obj["id"]] = state
        self.lifecycle.start(state)
        return state

    def _context(self, previous: str | None, conversation: Conversation | None) -> list[JSON]:
        if conversation is not None:
            return list(conversation.items.items)
        if previous is None:
            return []
        if previous not in self.responses:
            raise refuse(
                "previous_response_id",
                f"Previous response with id '{previous}' not found.",
                "previous_response_not_found",
            )
        return self.response(previous).history()

    def response(self, response_id: str) -> ResponseState:
        """A kept response, advanced to now."""
        state = self.responses.get(response_id)
        if state is None:
            raise ApiError(
                404, f"Response with id '{response_id}' not found.", subject=("response", response_id)
            )
        self.lifecycle.advance(state)
        return state

    def cancel(self, response_id: str) -> ResponseState:
        state = self.response(response_id)
        if not state.obj["background"]:
            raise ApiError(400, "Cannot cancel a synchronous response.")
        self.lifecycle.cancel(state)
        return state

    def delete(self, response_id: str) -> JSON:
        self.response(response_id)
        del self.responses[response_id]
        return {"id": response_id, "object": "response", "deleted": True}

    def input_items(self, response_id: str, query: JSON) -> tuple[list[JSON], bool]:
        listing = Listing()
        for entry in self.response(response_id).input:
            listing.add(entry)
        return _page(listing, query)


def _items(value: object, where: str) -> list[JSON]:
    listed = an_array(value, where, max_items=MAX_ITEMS)
    return input_items(listed, where)


def _page(listing: Listing, query: JSON) -> tuple[list[JSON], bool]:
    """A page of items: `limit`, `order` and `after` (these lists have no `before`)."""
    return listing.page({k: v for k, v in query.items() if k in ("limit", "order", "after")}, "item")
