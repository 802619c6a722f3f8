"""The store's exceptions, and the one place a driver's error becomes one of them.

No driver exception leaves the store: each is translated at the boundary (`translating`), most specific first,
into a `StoreError` whose message names the store by its redacted URL and never holds the password. The
driver's exception is not chained (`from None`): its text is in the message, scrubbed, and nothing else of it
travels with the error, so a traceback logged by a caller cannot show a secret either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StoreError(Exception):
    """Anything the run store refuses or fails to do."""


class StoreUnavailable(StoreError):
    """The store cannot be used: a bad URL, a server that cannot be reached or refuses the credentials, a
    database file that cannot be opened, a call that did not finish within its timeout, a closed store."""


class RunExists(StoreError):
    """`create` of a run whose id is already stored."""


class SchemaTooNew(StoreError):
    """The database's schema is newer than this code knows: a newer gateway migrated it. Opening it anyway
    could write rows the newer code misreads, so the store refuses."""


Classify = Callable[[BaseException], str | None]
"""A backend's rule: why an exception makes the store unavailable, or None when it is no such error."""


@contextmanager
def translating(where: str, secret: str | None, classify: Classify, timeout: float) -> Iterator[None]:
    """Turn what the body raises into a StoreError: a timeout or what `classify` names into StoreUnavailable,
    any other driver error into StoreError; `where` is the redacted URL, `secret` is scrubbed from every
    message. StoreErrors of our own pass as they are."""
    try:
        yield
    except StoreError:
        raise
    except TimeoutError:
        raise StoreUnavailable(f"run store {where}: no answer within {timeout:g} s") from None
    except Exception as exc:
        reason = classify(exc)
        text = scrub(f"{type(exc).__name__}: {exc}", secret)
        if reason is not None:
            raise StoreUnavailable(f"run store {where}: {reason} ({text})") from None
        raise StoreError(f"run store {where}: {text}") from None


def scrub(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `***`."""
    return text.replace(secret, "***") if secret else text
