"""Signed-in operators: a random session token in an HttpOnly, SameSite=Strict cookie, and a
per-session CSRF token that every POST must carry in the `X-CSRF-Token` header."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fleet.console.operators import Operator

__all__ = ["COOKIE", "CSRF_HEADER", "Session", "Sessions"]

COOKIE = "yardfleet_session"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME_S = 12 * 3600.0
"""A session lasts a shift."""


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in operator."""

    token: str
    operator: Operator
    csrf: str
    expires: float

    def csrf_ok(self, header: str | None) -> bool:
        """Whether a request's CSRF header is this session's token."""
        return header is not None and hmac.compare_digest(header, self.csrf)


class Sessions:
    """The sessions of one console (any thread)."""

    def __init__(self, lifetime_s: float = LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, operator: Operator) -> Session:
        """A new session for an operator who gave the right password."""
        s = Session(
            secrets.token_urlsafe(32),
            operator,
            secrets.token_urlsafe(32),
            time.monotonic() + self.lifetime_s,
        )
        with self._lock:
            self._by_token[s.token] = s
        return s

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, if any."""
        if not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
            if s is not None and s.expires < time.monotonic():
                del self._by_token[token]
                return None
            return s

    def close(self, token: str | None) -> None:
        """Sign out."""
        with self._lock:
            self._by_token.pop(token or "", None)
