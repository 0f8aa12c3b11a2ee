"""Synchronous client (standard library only: urllib) for the REST API of a DepoChain node."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from consensus.ledger import SignedTx, UnsignedTx
from consensus.ledger.txs import Body
from consensus.validators import ValidatorSet
from node.client import common as c
from node.client.builders import Signer, TxDefaults, make_tx, new_idempotency_key, valid_for
from node.client.errors import ApiError, FinalityTimeout, NodeUnreachable

Json = dict[str, Any]
TIMEOUT_S = 10.0


class Client:
    """One node's REST API. Methods return the JSON documents of ``docs/api.md``."""

    def __init__(self, base_url: str = "http://127.0.0.1:26657", timeout_s: float = TIMEOUT_S):
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._chain_id: str | None = None
        self._last_nonce: dict[str, int] = {}

    # -- transport -----------------------------------------------------------------------------

    def request(
        self, method: str, path: str, query: Json | None = None, body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Json:  # fmt: skip
        url = c.build_url(self.base_url, path, query)
        headers = {"Content-Type": content_type} if body is not None else {}
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return c.decode_answer(response.status, response.read(), None)
        except urllib.error.HTTPError as exc:
            return c.decode_answer(exc.code, exc.read(), exc.headers.get("Retry-After"))
        except (urllib.error.URLError, OSError) as exc:
            raise NodeUnreachable(f"{self.base_url}: {getattr(exc, 'reason', exc)}") from exc

    def get(self, path: str, **query: Any) -> Json:
        return self.request("GET", path, query)

    # -- queries -------------------------------------------------------------------------------

    def status(self) -> Json:
        return self.get(f"{c.API}/status")

    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = str(self.status()["chain_id"])
        return self._chain_id

    def participants(self, limit: int | None = None, cursor: str | None = None) -> Json:
        return self.get(f"{c.API}/participants", limit=limit, cursor=cursor)

    def participant(self, participant_id: str) -> Json:
        return self.get(f"{c.API}/participants/{c.segment(participant_id)}")

    def instruments(self, limit: int | None = None, cursor: str | None = None) -> Json:
        return self.get(f"{c.API}/instruments", limit=limit, cursor=cursor)

    def instrument(self, instrument_id: str) -> Json:
        return self.get(f"{c.API}/instruments/{c.segment(instrument_id)}")

    def accounts(self, limit: int | None = None, cursor: str | None = None) -> Json:
        return self.get(f"{c.API}/accounts", limit=limit, cursor=cursor)

    def account(self, account_id: str) -> Json:
        return self.get(c.account_path(account_id))

    def account_proof(self, account_id: str, height: int | None = None) -> Json:
        """The account, its nonce and every balance, proven (``node.client.state_proofs``)."""
        return self.get(c.account_path(account_id), prove=True, height=height)

    def instrument_proof(self, instrument_id: str, height: int | None = None) -> Json:
        path = f"{c.API}/instruments/{c.segment(instrument_id)}"
        return self.get(path, prove=True, height=height)

    def balances_page(
        self, instrument_id: str, height: int | None, cursor: str | None, limit: int | None
    ) -> Json:
        """One proven page of an instrument's balances (the proof of liabilities)."""
        path = f"{c.API}/instruments/{c.segment(instrument_id)}/balances"
        return self.get(path, height=height, cursor=cursor, limit=limit)

    def nonce(self, submitter: str) -> Json:
        return self.get(f"{c.API}/nonce", submitter=submitter)

    def tx(self, tx_hash: str, prove: bool = False) -> Json:
        return self.get(f"{c.API}/txs/{c.segment(tx_hash)}", prove=prove or None)

    def tx_by_key(self, submitter: str, key: str, prove: bool = False) -> Json:
        return self.get(f"{c.API}/txs/by-key", submitter=submitter, key=key, prove=prove or None)

    def proof(self, tx_hash: str) -> Json:
        return self.get(f"{c.API}/txs/{c.segment(tx_hash)}/proof")

    def blocks(self, limit: int | None = None, cursor: str | None = None) -> Json:
        return self.get(f"{c.API}/blocks", limit=limit, cursor=cursor)

    def block(self, height: int | str = "latest") -> Json:
        return self.get(f"{c.API}/blocks/{c.segment(str(height))}")

    def validators(self, height: int | None = None) -> Json:
        return self.get(f"{c.API}/validators", height=height)

    # -- building and submitting ---------------------------------------------------------------

    def next_nonce(self, submitter: str) -> int:
        """The node's next free nonce, never below one this client already used."""
        from_node = int(self.nonce(submitter)["next_nonce"])
        nonce = max(from_node, self._last_nonce.get(submitter, 0) + 1)
        self._last_nonce[submitter] = nonce
        return nonce

    def prepare(
        self, signer: Signer, body: Body, *, idempotency_key: str | None = None, memo: str = "",
        nonce: int | None = None,
    ) -> SignedTx:  # fmt: skip
        """Sign ``body`` as ``signer`` with an automatic nonce and idempotency key."""
        defaults = TxDefaults(
            chain_id=self.chain_id(),
            submitter=signer.submitter,
            nonce=nonce if nonce is not None else self.next_nonce(signer.submitter),
            idempotency_key=idempotency_key or new_idempotency_key(),
            valid_until=valid_for(),
            memo=memo,
        )
        unsigned: UnsignedTx = make_tx(defaults, body)
        return signer.sign(unsigned)

    def submit(self, tx: SignedTx | bytes) -> Json:
        """Submit one tx (idempotent: safe to retry); waits out 429 a few times."""
        body = c.encode_submission(tx)
        for attempt in range(c.SUBMIT_RETRIES_MAX):
            try:
                return self.request("POST", f"{c.API}/txs", body=body)
            except ApiError as exc:
                if exc.status != 429 or attempt + 1 == c.SUBMIT_RETRIES_MAX:
                    raise
                time.sleep(exc.retry_after_s or 1.0)
        raise AssertionError("unreachable")

    def precheck(self, tx: SignedTx | bytes) -> Json:
        """Would ``tx`` pass in the next block? ``{"would_pass", "code", "code_name", "log",
        "height", "time_ms"}`` by the ledger's own rules; nothing is submitted."""
        body = c.encode_submission(tx)
        return self.request("POST", f"{c.API}/txs/precheck", body=body)

    def submit_batch(self, txs: list[SignedTx | bytes]) -> list[Json]:
        return list(self.request("POST", f"{c.API}/txs", body=c.encode_batch(txs))["results"])

    def wait_for_tx(self, tx_hash: str, timeout_s: float = 30.0) -> Json:
        """The tx view once committed; :class:`TxRejected` if it failed."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                view = self.tx(tx_hash)
                if c.check_final_view(view):
                    return view
            except ApiError as exc:
                if exc.status != 404:
                    raise
            if time.monotonic() >= deadline:
                raise FinalityTimeout(f"tx {tx_hash} not committed within {timeout_s:.0f} s")
            time.sleep(c.POLL_INTERVAL_S)

    def wait_for_finality(
        self, tx_hash: str, trusted_validators: ValidatorSet | None = None, timeout_s: float = 30.0
    ) -> c.FinalTx:
        """Wait for the commit, fetch the proof and verify it offline."""
        view = self.wait_for_tx(tx_hash, timeout_s)
        return c.finish(view, self.proof(tx_hash), trusted_validators, self.chain_id())

    def submit_and_wait(
        self, tx: SignedTx, trusted_validators: ValidatorSet | None = None, timeout_s: float = 30.0
    ) -> c.FinalTx:
        answer = self.submit(tx)
        return self.wait_for_finality(str(answer["hash"]), trusted_validators, timeout_s)
