"""The run store: what the gateway keeps of runs when its upstream (the Responses and Conversations APIs)
cannot list a conversation's runs or hold a run's chain of responses.

It knows nothing of gRPC or HTTP. `gateway.store.opening.open_store(url)` returns a `RunStore` on SQLite
(`sqlite:///PATH`, the default, one machine) or PostgreSQL (`postgresql://...`, shared by replicas), its
schema migrated. Every call is bounded by a timeout and raises only `StoreError`s. See docs/store.md.

This package's own names are the light ones (the model, the errors, the URLs): the configuration reads
them at every start, and a gateway in front of the Assistants API never opens a store, so the backends and
`open_store` are imported only by what opens one.
"""

from gateway.store.errors import RunExists, SchemaTooNew, StoreError, StoreUnavailable
from gateway.store.model import TERMINAL_STATUSES, Order, RunStore, StoredRun
from gateway.store.urls import DEFAULT_URL, redact

__all__ = [
    "DEFAULT_URL",
    "TERMINAL_STATUSES",
    "Order",
    "RunExists",
    "RunStore",
    "SchemaTooNew",
    "StoreError",
    "StoreUnavailable",
    "StoredRun",
    "redact",
]
