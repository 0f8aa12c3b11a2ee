"""Asynchronous client (aiohttp) with the same methods as :class:`node.client.sync.Client`."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

import aiohttp

from consensus.ledger import SignedTx
from consensus.ledger.txs import Body
from consensus.validators import ValidatorSet
from node.client import common as c
from node.client.builders import Signer, TxDefaults, make_tx, new_idempotency_key, valid_for
from node.client.errors import ApiError, FinalityTimeout, NodeUnreachable

Json = dict[str, Any]
TIMEOUT_S = 10.0


class AsyncClient:
    """Use as ``async with AsyncClient(url) as client:`` (owns one aiohttp session)."""

    def __init__(self, base_url: str = "http://127.0.0.1:26657", timeout_s: float = TIMEOUT_S):
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._chain_id: str | None = None
        self._last_nonce: dict[str, int] = {}

    async def __aenter__(self) -> AsyncClient:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, path: str, query: Json | None = None, body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Json:  # fmt: skip
        if self._session is None:
            raise RuntimeError("use AsyncClient as an async context manager")
        url = c.build_url(self.base_url, path, query)
        headers = {"Content-Type": content_type} if body is not None else {}
        try:
            async with self._session.request(method, url, data=body, headers=headers) as response:
                raw = await response.read()
                return c.decode_answer(response.status, raw, response.headers.get("Retry-After"))
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise NodeUnreachable(f"{self.base_url}: {exc}") from exc

    async def get(self, path: str, **query: Any) -> Json:
        return await self.request("GET", path, query)

    async def status(self) -> Json:
        return await self.get(f"{c.API}/status")

    async def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = str((await self.status())["chain_id"])
        return self._chain_id

    async def account(self, account_id: str) -> Json:
        return await self.get(c.account_path(account_id))

    async def account_proof(self, account_id: str, height: int | None = None) -> Json:
        """As :meth:`node.client.Client.account_proof`; verify with ``state_proofs``."""
        return await self.get(c.account_path(account_id), prove=True, height=height)

    async def instrument_proof(self, instrument_id: str, height: int | None = None) -> Json:
        path = f"{c.API}/instruments/{c.segment(instrument_id)}"
        return await self.get(path, prove=True, height=height)

    async def balances_page(
        self, instrument_id: str, height: int | None, cursor: str | None, limit: int | None
    ) -> Json:
        path = f"{c.API}/instruments/{c.segment(instrument_id)}/balances"
        return await self.get(path, height=height, cursor=cursor, limit=limit)

    async def instrument(self, instrument_id: str) -> Json:
        return await self.get(f"{c.API}/instruments/{c.segment(instrument_id)}")

    async def nonce(self, submitter: str) -> Json:
        return await self.get(f"{c.API}/nonce", submitter=submitter)

    async def tx(self, tx_hash: str, prove: bool = False) -> Json:
        return await self.get(f"{c.API}/txs/{c.segment(tx_hash)}", prove=prove or None)

    async def tx_by_key(self, submitter: str, key: str) -> Json:
        return await self.get(f"{c.API}/txs/by-key", submitter=submitter, key=key)

    async def proof(self, tx_hash: str) -> Json:
        return await self.get(f"{c.API}/txs/{c.segment(tx_hash)}/proof")

    async def block(self, height: int | str = "latest") -> Json:
        return await self.get(f"{c.API}/blocks/{c.segment(str(height))}")

    async def validators(self, height: int | None = None) -> Json:
        return await self.get(f"{c.API}/validators", height=height)

    async def next_nonce(self, submitter: str) -> int:
        from_node = int((await self.nonce(submitter))["next_nonce"])
        nonce = max(from_node, self._last_nonce.get(submitter, 0) + 1)
        self._last_nonce[submitter] = nonce
        return nonce

    async def prepare(
        self, signer: Signer, body: Body, *, idempotency_key: str | None = None, memo: str = ""
    ) -> SignedTx:
        defaults = TxDefaults(
            chain_id=await self.chain_id(),
            submitter=signer.submitter,
            nonce=await self.next_nonce(signer.submitter),
            idempotency_key=idempotency_key or new_idempotency_key(),
            valid_until=valid_for(),
            memo=memo,
        )
        return signer.sign(make_tx(defaults, body))

    async def submit(self, tx: SignedTx | bytes) -> Json:
        body = c.encode_submission(tx)
        for attempt in range(c.SUBMIT_RETRIES_MAX):
            try:
                return await self.request("POST", f"{c.API}/txs", body=body)
            except ApiError as exc:
                if exc.status != 429 or attempt + 1 == c.SUBMIT_RETRIES_MAX:
                    raise
                await asyncio.sleep(exc.retry_after_s or 1.0)
        raise AssertionError("unreachable")

    async def precheck(self, tx: SignedTx | bytes) -> Json:
        """Would ``tx`` pass in the next block? ``{"would_pass", "code", "code_name", "log",
        "height", "time_ms"}`` by the ledger's own rules; nothing is submitted."""
        body = c.encode_submission(tx)
        return await self.request("POST", f"{c.API}/txs/precheck", body=body)

    async def submit_batch(self, txs: list[SignedTx | bytes]) -> list[Json]:
        answer = await self.request("POST", f"{c.API}/txs", body=c.encode_batch(txs))
        return list(answer["results"])

    async def wait_for_tx(self, tx_hash: str, timeout_s: float = 30.0) -> Json:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                view = await self.tx(tx_hash)
                if c.check_final_view(view):
                    return view
            except ApiError as exc:
                if exc.status != 404:
                    raise
            if time.monotonic() >= deadline:
                raise FinalityTimeout(f"tx {tx_hash} not committed within {timeout_s:.0f} s")
            await asyncio.sleep(c.POLL_INTERVAL_S)

    async def wait_for_finality(
        self, tx_hash: str, trusted_validators: ValidatorSet | None = None, timeout_s: float = 30.0
    ) -> c.FinalTx:
        view = await self.wait_for_tx(tx_hash, timeout_s)
        proof = await self.proof(tx_hash)
        return c.finish(view, proof, trusted_validators, await self.chain_id())

    async def submit_and_wait(
        self, tx: SignedTx, trusted_validators: ValidatorSet | None = None, timeout_s: float = 30.0
    ) -> c.FinalTx:
        answer = await self.submit(tx)
        return await self.wait_for_finality(str(answer["hash"]), trusted_validators, timeout_s)
