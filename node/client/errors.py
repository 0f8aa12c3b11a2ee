"""Errors the SDK raises: one root, so callers can catch everything expected in one place."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Root of every expected SDK failure."""


class NodeUnreachable(ClientError):
    """The node did not answer (connection refused, timeout, DNS...)."""


class ApiError(ClientError):
    """The node answered with an error: ``status`` (HTTP) and the typed ``code``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details

    @property
    def retry_after_s(self) -> float | None:
        """For 429: how long to wait (the server's Retry-After; set by the transport)."""
        value = self.details.get("retry_after_s") if isinstance(self.details, dict) else None
        return float(value) if isinstance(value, int | float) else None


class TxRejected(ClientError):
    """The transaction was rejected (at submission or in a block): ``code_name`` says why."""

    def __init__(self, tx_hash: str, code: int, code_name: str, log: str) -> None:
        super().__init__(f"tx {tx_hash} rejected: {code_name} ({log})")
        self.tx_hash, self.code, self.code_name, self.log = tx_hash, code, code_name, log


class FinalityTimeout(ClientError):
    """The transaction was not committed within the wait."""


class ProofError(ClientError):
    """A finality proof that does not prove what it claims (or cannot be parsed)."""
