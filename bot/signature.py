"""Webhook authenticity: GitHub's ``X-Hub-Signature-256`` HMAC over the raw request body."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for ``body``: ``sha256=<hex digest>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True only when ``header`` is the HMAC of the exact bytes received.

    An empty secret verifies nothing: a service started without one must reject every
    delivery rather than accept unsigned ones. The comparison is constant-time.
    """
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), header.strip().encode("utf-8", "replace"))
