"""The chain ``depochain bench statesync`` joins: a localnet whose state is grown by transactions.

- :func:`prepare` writes a 4-validator localnet that takes snapshots, commits empty blocks as
  fast as its ``timeout_commit_ms`` allows, and admits long runs of one submitter's txs; and the
  home of a fifth, empty full node that joins it by state sync (listed as a peer by every
  validator, as this permissioned network requires);
- :func:`open_accounts` grows the state after genesis: every bank opens its share of
  ``accounts`` accounts with ``ACCOUNT_OPEN`` transactions, signed in advance and sent in
  batches, a bounded number ahead of each bank's committed nonce (a genesis file is capped
  at 16 MiB, about 57,000 accounts; transactions have no such cap, and are how a real
  chain's state grows).
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from consensus.crypto import PrivateKey
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.bodies import AccountOpen
from consensus.types import ChainId
from node.bench.cluster import find_base_port
from node.bench.load import RpcConnection
from node.config import NodeConfig, load_config, write_config
from node.home import CONFIG_FILE, GENESIS_FILE, load_key
from node.localnet import LocalnetInfo, prepare_localnet
from node.localnet.generate import write_node_home
from node.localnet.plan import PARTICIPANTS_DIR
from node.localnet.run import is_port_free

VALIDATORS = 4
KYC_EXPIRY_MS = 4_102_444_800_000  # 2100-01-01: the bench's accounts never expire
AHEAD_MAX = 1_500
"""Txs of one bank sent beyond its committed nonce (within the mempool settings below)."""
BATCH_TXS = 250
STALL_S = 10.0
"""A bank whose committed nonce has not moved this long gets its unconfirmed txs again (a
node may drop an admitted tx later: [mempool].ttl_s)."""


@dataclass(frozen=True, slots=True)
class BenchChain:
    info: LocalnetInfo
    joiner_home: Path
    joiner_rpc_url: str


@dataclass(frozen=True, slots=True)
class ChainSettings:
    snapshot_interval: int
    chunk_bytes: int
    timeout_commit_ms: int
    restore_timeout_s: int
    snapshots_kept: int = 4
    """More than the default 2: on a fast chain with a short interval, a snapshot must outlive
    the joiner's discovery and fetch."""


def _fast_validator(settings: ChainSettings, joiner: str) -> Callable[[NodeConfig], NodeConfig]:
    def change(config: NodeConfig) -> NodeConfig:
        return dataclasses.replace(
            config,
            statesync=dataclasses.replace(
                config.statesync,
                snapshot_interval=settings.snapshot_interval,
                chunk_bytes=settings.chunk_bytes,
                snapshots_kept=settings.snapshots_kept,
            ),
            consensus=dataclasses.replace(
                config.consensus,
                timeout_commit_ms=settings.timeout_commit_ms,
                empty_block_interval_ms=0,
            ),
            mempool=dataclasses.replace(
                config.mempool,
                txs_max=20_000,
                nonce_window=2 * AHEAD_MAX,
                submitter_txs_max=2 * AHEAD_MAX,
            ),
            p2p=dataclasses.replace(
                config.p2p, persistent_peers=(*config.p2p.persistent_peers, joiner)
            ),
        )

    return change


def _free_ports(count: int, after: int) -> list[int]:
    ports = [p for p in range(after, after + 400) if is_port_free(p)]
    return ports[:count]


def prepare(home: Path, base_port: int, settings: ChainSettings) -> BenchChain:
    base = find_base_port(VALIDATORS, base_port)
    info, _ = prepare_localnet(home / "localnet", validators=VALIDATORS, base_port=base)
    used = max(p for node in info.nodes for p in (node.rpc_port, node.p2p_port))
    rpc_port, p2p_port = _free_ports(2, used + 20)
    node_key = PrivateKey(os.urandom(32))
    joiner_address = f"{node_key.public_key.hex()}@127.0.0.1:{p2p_port}"
    for node in info.nodes:
        path = node.home / CONFIG_FILE
        write_config(_fast_validator(settings, joiner_address)(load_config(path)), path)
    config = load_config(info.nodes[0].home / CONFIG_FILE)
    peers = tuple(entry["peer_address"] for entry in info.document["nodes"])
    config = dataclasses.replace(
        config,
        node=dataclasses.replace(config.node, moniker="joiner"),
        p2p=dataclasses.replace(config.p2p, listen_port=p2p_port, persistent_peers=peers),
        rpc=dataclasses.replace(config.rpc, listen_port=rpc_port),
        statesync=dataclasses.replace(
            config.statesync,
            enable=True,
            discovery_time_s=3,
            restore_timeout_s=settings.restore_timeout_s,
        ),
    )
    genesis = (info.nodes[0].home / GENESIS_FILE).read_bytes()
    write_node_home(home / "joiner", config, genesis, node_key, None)
    return BenchChain(info, home / "joiner", f"http://127.0.0.1:{rpc_port}")


# -- growing the state by transactions ---------------------------------------------------------


def sign_account_opens(info: LocalnetInfo, accounts: int) -> dict[str, list[str]]:
    """Per bank, its base64 ``ACCOUNT_OPEN`` txs in nonce order (nonces 1, 2, ...; the banks
    sign nothing else in this bench). Every account has one owner key (one for all: the
    bench measures the state's size, not its keys)."""
    banks = [str(entry["bank"]) for entry in info.document["nodes"]]
    owner = PrivateKey(b"\x07" * 32).public_key
    kyc = b"\x01" * 32
    signed: dict[str, list[str]] = {bank: [] for bank in banks}
    for number in range(accounts):
        bank = banks[number % len(banks)]
        unsigned = UnsignedTx(
            chain_id=ChainId(info.document["chain_id"]),
            submitter=bank,
            nonce=len(signed[bank]) + 1,
            idempotency_key=f"open-{number}",
            valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**12),
            memo="",
            body=AccountOpen(f"{bank}/s{number:07d}", (owner,), 1, kyc, KYC_EXPIRY_MS),
        )
        raw = sign_tx(unsigned, [_bank_key(info, bank)]).encode()
        signed[bank].append(base64.b64encode(raw).decode())
    return signed


_KEYS: dict[tuple[str, str], PrivateKey] = {}


def _bank_key(info: LocalnetInfo, bank: str) -> PrivateKey:
    cached = _KEYS.get((str(info.home), bank))
    if cached is None:
        cached = _KEYS[(str(info.home), bank)] = load_key(
            info.home / PARTICIPANTS_DIR / f"{bank}.json"
        )
    return cached


def committed_nonce(url: str, submitter: str) -> int:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", f"/api/v1/nonce?submitter={submitter}")
        return int(json.loads(conn.getresponse().read())["nonce"])
    finally:
        conn.close()


def _send(conn: RpcConnection, txs: list[str]) -> int:
    """Send ``txs`` as one batch; how many of them, from the first, the node admitted (or
    already had). A refused tx (a full mempool, a busy node) and those after it are sent
    again later: its nonce must be committed before theirs."""
    parts = [
        f'{{"jsonrpc":"2.0","id":{i},"method":"broadcast_tx_async","params":{{"tx":"{tx}"}}}}'
        for i, tx in enumerate(txs)
    ]
    try:
        answer = conn.exchange(("[" + ",".join(parts) + "]").encode())
    except (OSError, http.client.HTTPException):
        return 0
    if answer.status != 200 or not isinstance(answer.body, list):
        return 0
    by_id = {entry.get("id"): entry for entry in answer.body if isinstance(entry, dict)}
    for index in range(len(txs)):
        result = by_id.get(index, {}).get("result")
        if not isinstance(result, dict) or result.get("code") != 0:
            return index
    return len(txs)


def open_accounts(info: LocalnetInfo, signed: dict[str, list[str]], timeout_s: float) -> float:
    """Submit every bank's txs, at most AHEAD_MAX past its committed nonce, until all are
    committed; the seconds it took. Txs a node dropped are sent again after STALL_S."""
    started = time.monotonic()
    urls = [node.rpc_url for node in info.nodes]
    conns = [RpcConnection(url) for url in urls]
    sent = {bank: 0 for bank in signed}
    last_move = {bank: (0, started) for bank in signed}
    turn = 0
    while True:
        done = True
        for bank, txs in signed.items():
            committed = committed_nonce(urls[0], bank)
            if committed < len(txs):
                done = False
            if committed != last_move[bank][0]:
                last_move[bank] = (committed, time.monotonic())
            elif time.monotonic() - last_move[bank][1] > STALL_S:
                sent[bank], last_move[bank] = committed, (committed, time.monotonic())
            sent[bank] = max(sent[bank], committed)
            while sent[bank] < min(len(txs), committed + AHEAD_MAX):
                batch = txs[sent[bank] : min(len(txs), sent[bank] + BATCH_TXS)]
                admitted = _send(conns[turn % len(conns)], batch)
                turn += 1
                sent[bank] += admitted
                if admitted < len(batch):
                    break  # the rest of this bank's run waits for the next round
        if done:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"accounts not all opened in {timeout_s:g} s: {sent}")
        time.sleep(0.5)
