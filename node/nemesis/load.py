"""Load for the nemesis: payers submitting transfers over the REST API, recording every
acknowledgement.

Each payer (a localnet demo account, in a thread of its own) signs one transfer per nonce, once:
the bytes of nonce ``n`` never change, so retrying it anywhere is idempotent. A tx is
*acknowledged* when a node answers ``POST /api/v1/txs`` with 202 (pending) or 200; the ledger
of acknowledgements (hash -> submitter, nonce, time) is what the checks hold the chain to.
Submissions go round-robin over every node, faulted or not (a node about to be killed must
keep what it acknowledged). A payer keeps at most ``WINDOW`` txs beyond its committed nonce
and sends the uncommitted ones again, to another node, when they sit too long, as a client
would. :meth:`Load.pause` stops new submissions so the chain settles for the checks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from consensus.crypto import PrivateKey, sha256
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.types import ChainId
from node.client.common import API, encode_submission
from node.client.errors import ClientError
from node.client.sync import Client

WINDOW = 16
RESEND_AFTER_S = 8.0
RETRY_AFTER_S = 0.2
HTTP_TIMEOUT_S = 3.0
IDLE_S = 0.05


@dataclass(frozen=True, slots=True)
class Ack:
    submitter: str
    nonce: int
    at: float
    """time.monotonic() of the acknowledgement."""


@dataclass(frozen=True, slots=True)
class PayerSpec:
    account_id: str
    instrument_id: str
    key: PrivateKey
    payee: str


@dataclass
class Outgoing:
    nonce: int
    raw: bytes
    tx_hash: str
    sent_at: float = 0.0
    acked: bool = False


def build_transfer(chain_id: str, payer: PayerSpec, nonce: int, tag: str) -> bytes:
    """The one signed transfer of ``payer`` at ``nonce`` (1 minor unit to its payee)."""
    unsigned = UnsignedTx(
        chain_id=ChainId(chain_id),
        submitter=payer.account_id,
        nonce=nonce,
        idempotency_key=f"{tag}-{nonce}",
        valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**12),
        memo="",
        body=Transfer(payer.payee, payer.instrument_id, 1),
    )
    return sign_tx(unsigned, [payer.key]).encode()


def submit_once(url: str, raw: bytes) -> bool:
    """True when the node acknowledged the tx (202 pending or 200 committed/known)."""
    client = Client(url, timeout_s=HTTP_TIMEOUT_S)
    try:
        answer = client.request("POST", f"{API}/txs", body=encode_submission(raw))
    except ClientError:
        return False
    return answer.get("status") in ("pending", "committed")


def get_committed_nonce(url: str, submitter: str) -> int | None:
    try:
        return int(Client(url, timeout_s=HTTP_TIMEOUT_S).nonce(submitter)["nonce"])
    except (ClientError, KeyError, ValueError):
        return None


@dataclass
class Load:
    chain_id: str
    urls: list[str]
    payers: list[PayerSpec]
    rate: float
    """Total tx/s offered (spread evenly over the payers)."""
    acks: dict[str, Ack] = field(default_factory=dict)
    resent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    outstanding: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        self.running.set()
        for index, payer in enumerate(self.payers):
            thread = threading.Thread(target=self._run, args=(index, payer), daemon=True)
            thread.start()
            self.threads.append(thread)

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def stop(self) -> None:
        self.stopped.set()
        self.running.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def record(self, tx_hash: str, submitter: str, nonce: int) -> None:
        with self.lock:
            self.acks.setdefault(tx_hash, Ack(submitter, nonce, time.monotonic()))

    def snapshot(self) -> dict[str, Ack]:
        with self.lock:
            return dict(self.acks)

    def _run(self, index: int, payer: PayerSpec) -> None:
        interval = len(self.payers) / self.rate
        queue: list[Outgoing] = []
        turn = index
        committed = 0
        next_nonce = 1
        last_sync = 0.0
        while not self.stopped.is_set():
            if not self.running.is_set():
                # paused for a check: nothing new, but a tx never acknowledged is still retried
                # (as a client would), or the acknowledged txs after it would wait behind its
                # nonce for the whole check and be counted lost
                turn += 1
                if not self._retry_unacknowledged(queue, turn, payer):
                    time.sleep(IDLE_S)
                continue
            now = time.monotonic()
            if now - last_sync > 0.5 and queue:
                known = get_committed_nonce(self.urls[turn % len(self.urls)], payer.account_id)
                committed = committed if known is None else max(committed, known)
                queue = [tx for tx in queue if tx.nonce > committed]
                last_sync = now
            with self.lock:
                self.outstanding[payer.account_id] = len(queue)
            turn += 1
            if self._resend_one(queue, turn, payer, now):
                continue
            if len(queue) >= WINDOW or not self.running.is_set():
                time.sleep(IDLE_S)
                continue
            raw = build_transfer(self.chain_id, payer, next_nonce, "nemesis")
            queue.append(Outgoing(next_nonce, raw, sha256(raw).hex()))
            next_nonce += 1
            self._send(queue[-1], turn, payer)
            time.sleep(max(0.0, interval - (time.monotonic() - now)))

    def _resend_one(self, queue: list[Outgoing], turn: int, payer: PayerSpec, now: float) -> bool:
        """Send again the oldest tx that was never acknowledged, or acknowledged long ago and
        still not committed; False if there is none."""
        for tx in queue:
            waited = now - tx.sent_at
            if (not tx.acked and waited > RETRY_AFTER_S) or waited > RESEND_AFTER_S:
                if tx.acked:
                    self.resent += 1
                self._send(tx, turn, payer)
                return True
        return False

    def _retry_unacknowledged(self, queue: list[Outgoing], turn: int, payer: PayerSpec) -> bool:
        """Send again the oldest tx never acknowledged (acknowledged ones are not: the check
        must see whether the chain kept them); False if there is none to send yet."""
        now = time.monotonic()
        for tx in queue:
            if not tx.acked and now - tx.sent_at > RETRY_AFTER_S:
                self._send(tx, turn, payer)
                return True
        return False

    def _send(self, tx: Outgoing, turn: int, payer: PayerSpec) -> None:
        tx.sent_at = time.monotonic()
        if submit_once(self.urls[turn % len(self.urls)], tx.raw):
            tx.acked = True
            self.record(tx.tx_hash, payer.account_id, tx.nonce)
