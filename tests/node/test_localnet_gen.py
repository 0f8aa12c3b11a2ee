"""Localnet generation: genesis, keys, ports, configs, endpoints.json, resume vs --fresh."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from consensus.ledger import (
    Code,
    GenesisDoc,
    UnsignedTx,
    ValidUntil,
    ValidUntilKind,
    build_genesis_state,
    execute_block,
    get_validators,
    sign_tx,
)
from consensus.ledger.queries import get_balance, get_participant
from consensus.ledger.records import Role
from consensus.ledger.txs import Body, Mint, Transfer
from consensus.types import ChainId
from node.cli import main
from node.config import RpcSection, dump_config, load_config
from node.home import load_genesis, load_key
from node.localnet import (
    LocalnetError,
    generate,
    load_localnet,
    prepare_localnet,
    wipe_localnet,
)
from node.localnet import plan as localnet_plan
from node.localnet.plan import (
    CUSTOMER_MINOR,
    ENDPOINTS_FILE,
    RESERVE_MINOR,
    VALIDATOR_POWER,
    compute_plan,
    make_key_source,
)

REPO = Path(__file__).resolve().parents[2]
BASE = 36656
MONIKERS = ("bank-a", "bank-b", "bank-c", "bank-d")
BANKS = ("BANKA", "BANKB", "BANKC", "BANKD")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated localnet shared by the read-only tests of this module."""
    home = tmp_path_factory.mktemp("ln") / "localnet"
    info, generated = prepare_localnet(home, base_port=BASE)
    assert generated and info.home == home
    return home


def endpoints(home: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((home / ENDPOINTS_FILE).read_text())
    return document


def ledger_genesis(home: Path) -> GenesisDoc:
    return load_genesis(home / "genesis.json").ledger


# ---------------------------------------------------------------------------------------------
# genesis


def test_genesis_is_valid_and_identical_on_every_node(net: Path) -> None:
    raw = (net / "genesis.json").read_bytes()
    for moniker in MONIKERS:
        assert (net / moniker / "genesis.json").read_bytes() == raw
    document = json.loads(raw)
    doc = GenesisDoc.from_json_dict(document["ledger"])
    state = build_genesis_state(doc)
    assert state.height == 0
    assert doc.chain_id == "depochain-localnet" == document["chain_id"]
    assert (
        endpoints(net)["genesis_sha256"] == load_genesis(net / "genesis.json").compute_hash().hex()
    )


def test_genesis_has_four_equal_validator_banks_and_a_settlement_agent(net: Path) -> None:
    doc = ledger_genesis(net)
    state = build_genesis_state(doc)
    by_id = {p.participant_id: p for p in doc.participants}
    assert set(by_id) == {*BANKS, "CB", "REG"}
    assert by_id["REG"].roles == {Role.REGULATOR} and by_id["REG"].validator_key is None
    for bank in BANKS:
        assert by_id[bank].roles == {Role.BANK, Role.VALIDATOR}
        assert by_id[bank].validator_power == VALIDATOR_POWER
    assert by_id["CB"].roles == {Role.SETTLEMENT_AGENT}
    assert by_id["CB"].validator_key is None
    validators = get_validators(state, 1)
    assert len(validators) == 4 and {power for _, power in validators} == {10}
    params = doc.governance
    assert (params.threshold_numerator, params.threshold_denominator) == (2, 3)
    assert params.is_reached(3, 4) and not params.is_reached(2, 4)


def test_genesis_instruments_and_funded_accounts(net: Path) -> None:
    doc = ledger_genesis(net)
    state = build_genesis_state(doc)
    specs = {s.instrument_id: s for s in doc.instruments}
    expected_tokens = {
        "BANKA:USD": "CB:USD",
        "BANKB:USD": "CB:USD",
        "BANKC:HKD": "CB:HKD",
        "BANKD:CNH": "CB:CNH",
    }
    assert set(specs) == {*expected_tokens, "CB:USD", "CB:HKD", "CB:CNH"}
    assert all(spec.decimals == 2 for spec in specs.values())
    for token, asset in expected_tokens.items():
        assert specs[token].settlement_asset == asset
        reserve = f"CB/{token.split(':')[0]}"
        assert get_balance(state, reserve, asset).free == RESERVE_MINOR
    customers = [a for a in endpoints(net)["accounts"] if not a["id"].startswith("CB/")]
    assert len(customers) == 8
    assert {"BANKA/alice", "BANKB/bob"} <= {a["id"] for a in customers}
    for account in customers:
        balance = get_balance(state, account["id"], account["instrument"])
        assert balance.free == account["balance"] == CUSTOMER_MINOR


# ---------------------------------------------------------------------------------------------
# keys


def test_key_files_are_private(net: Path) -> None:
    key_files = [
        *net.glob("bank-*/*_key.json"),
        *net.glob("participants/*.json"),
        *net.glob("accounts/*/*.json"),
    ]
    assert len(key_files) == 8 + 6 + 8  # node keys; BANKA-D, CB, REG; demo accounts
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_node_and_validator_keys_match_genesis_configs_and_endpoints(net: Path) -> None:
    doc = ledger_genesis(net)
    validator_keys = {p.participant_id: p.validator_key for p in doc.participants}
    nodes = endpoints(net)["nodes"]
    for index, entry in enumerate(nodes):
        home = net / MONIKERS[index]
        node_key = load_key(home / "node_key.json").public_key
        validator_key = load_key(home / "validator_key.json").public_key
        assert entry["node_id"] == node_key.hex()
        assert entry["validator_public_key"] == validator_key.hex()
        assert validator_keys[BANKS[index]] == validator_key
        assert node_key != validator_key
        # every other node dials this one with this node key
        for other in MONIKERS:
            peers = load_config(net / other / "config.toml").p2p.persistent_peers
            assert (entry["peer_address"] in peers) == (other != MONIKERS[index])


def test_participant_and_account_keys_sign_real_transactions(net: Path) -> None:
    """The written keys are the ones genesis trusts: a MINT and a cross-bank TRANSFER pass."""
    state = build_genesis_state(ledger_genesis(net))
    chain = ChainId("depochain-localnet")
    operator = load_key(net / "participants" / "BANKA.json")
    alice = load_key(net / "accounts" / "BANKA" / "alice.json")

    def signed(submitter: str, body: Body, key: Any) -> bytes:
        until = ValidUntil(ValidUntilKind.HEIGHT, 100)
        unsigned = UnsignedTx(chain, submitter, 1, "k1", until, "", body)
        return sign_tx(unsigned, [key]).encode()

    mint = signed("BANKA", Mint("BANKA/alice", "BANKA:USD", 500, "core-1"), operator)
    pay = signed("BANKA/alice", Transfer("BANKB/bob", "BANKA:USD", 700), alice)
    time_ms = ledger_genesis(net).genesis_time_ms + 1000
    result = execute_block(state, [mint, pay], 1, time_ms)
    assert [r.code for r in result.receipts] == [Code.OK, Code.OK]
    after = result.state
    assert get_balance(after, "BANKA/alice", "BANKA:USD").total == CUSTOMER_MINOR - 200
    assert get_balance(after, "BANKB/bob", "BANKB:USD").total == CUSTOMER_MINOR + 700
    assert get_balance(after, "CB/BANKB", "CB:USD").total == RESERVE_MINOR + 700
    participant = get_participant(after, "BANKA")
    assert participant is not None and participant.keys == (operator.public_key,)


# ---------------------------------------------------------------------------------------------
# configs, ports, endpoints.json


def test_configs_load_with_the_documented_ports(net: Path) -> None:
    for index, moniker in enumerate(MONIKERS):
        config = load_config(net / moniker / "config.toml")
        assert config.node.moniker == moniker
        assert config.node.chain_id == "depochain-localnet"
        assert config.get_home_path(net / moniker) == net / moniker  # moves with the folder
        assert config.p2p.listen_host == config.rpc.listen_host == "127.0.0.1"
        assert config.p2p.listen_port == BASE + 10 * index
        assert config.rpc.listen_port == BASE + 10 * index + 1
        assert len(config.p2p.get_peers()) == 3
        assert not config.rpc.admin_enabled
        genesis = load_genesis(net / moniker / "genesis.json")
        assert genesis.params == config.consensus.to_params()


def test_a_localnet_node_s_heavy_reads_get_its_share_of_the_shared_machine(net: Path) -> None:
    """All validators share one host: a node's read thread may not take half a core."""
    for moniker in MONIKERS:
        config = load_config(net / moniker / "config.toml")
        assert config.rpc.reads_cpu_percent == 20 < RpcSection().reads_cpu_percent


def test_endpoints_json_describes_every_node(net: Path) -> None:
    document = endpoints(net)
    assert document["chain_id"] == "depochain-localnet"
    assert document["base_port"] == BASE
    for index, entry in enumerate(document["nodes"]):
        assert entry["moniker"] == MONIKERS[index]
        assert entry["bank"] == BANKS[index]
        assert entry["rpc"] == f"http://127.0.0.1:{BASE + 10 * index + 1}"
        assert entry["p2p"] == f"127.0.0.1:{BASE + 10 * index}"
        assert entry["home"] == str(net / MONIKERS[index])
        assert entry["pid"] is None
    for item in document["participants"] + document["accounts"]:
        assert (net / item["key_file"]).is_file()


@pytest.mark.parametrize("validators", [1, 2, 3, 7, 16])
def test_any_supported_size_gives_a_valid_genesis(validators: int) -> None:
    plan = compute_plan(validators=validators, base_port=20000, keys=make_key_source("t"))
    state = build_genesis_state(plan.genesis)
    assert len(get_validators(state, 1)) == validators
    ports = [port for node in plan.nodes for port in (node.p2p_port, node.rpc_port)]
    assert len(set(ports)) == 2 * validators
    assert plan.genesis.governance.validators_min <= validators


@pytest.mark.parametrize(
    ("validators", "base_port"), [(0, 26656), (17, 26656), (4, 80), (4, 65510)]
)
def test_bad_size_or_ports_are_refused(validators: int, base_port: int) -> None:
    with pytest.raises(LocalnetError):
        compute_plan(validators=validators, base_port=base_port)


def test_seeded_plans_are_reproducible_and_fresh_ones_are_not() -> None:
    seeded = [compute_plan(keys=make_key_source("s"), genesis_time_ms=1) for _ in range(2)]
    assert seeded[0].genesis == seeded[1].genesis
    fresh = [compute_plan(genesis_time_ms=1) for _ in range(2)]
    assert fresh[0].genesis != fresh[1].genesis


# ---------------------------------------------------------------------------------------------
# resume, --fresh, refusals


def test_second_run_reuses_the_same_chain(tmp_path: Path) -> None:
    home = tmp_path / "ln"
    first, generated = prepare_localnet(home, base_port=BASE)
    raw = (home / "genesis.json").read_bytes()
    second, generated_again = prepare_localnet(home)
    assert generated and not generated_again
    assert second.nodes == first.nodes and second.base_port == BASE
    assert (home / "genesis.json").read_bytes() == raw


def test_a_moved_localnet_is_reused_where_it_now_is(tmp_path: Path) -> None:
    first, _ = prepare_localnet(tmp_path / "old")
    (tmp_path / "old").rename(tmp_path / "new")
    moved, generated = prepare_localnet(tmp_path / "new")
    assert not generated and moved.home == tmp_path / "new"
    assert [n.node_id for n in moved.nodes] == [n.node_id for n in first.nodes]
    for node in moved.nodes:
        config = load_config(node.home / "config.toml")
        assert config.get_data_path(node.home) == tmp_path / "new" / node.moniker / "data"


def test_fresh_wipes_and_regenerates(tmp_path: Path) -> None:
    home = tmp_path / "ln"
    first, _ = prepare_localnet(home, base_port=BASE)
    (home / "bank-a" / "data" / "marker").write_text("old chain")
    second, generated = prepare_localnet(home, fresh=True, validators=2, base_port=BASE + 100)
    assert generated and len(second.nodes) == 2
    assert not (home / "bank-a" / "data" / "marker").exists()
    assert second.nodes[0].node_id != first.nodes[0].node_id
    assert second.nodes[0].rpc_port == BASE + 101


def test_reuse_with_other_size_or_ports_asks_for_fresh(tmp_path: Path) -> None:
    home = tmp_path / "ln"
    prepare_localnet(home, base_port=BASE)
    with pytest.raises(LocalnetError, match="--fresh"):
        prepare_localnet(home, validators=3)
    with pytest.raises(LocalnetError, match="--fresh"):
        prepare_localnet(home, base_port=BASE + 1000)


def test_an_empty_folder_is_used_but_a_foreign_one_is_never_wiped(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_localnet(empty)[1]
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(LocalnetError, match="not a localnet folder"):
        prepare_localnet(foreign)
    with pytest.raises(LocalnetError, match="refusing to wipe"):
        prepare_localnet(foreign, fresh=True)
    with pytest.raises(LocalnetError, match="refusing to wipe"):
        wipe_localnet(foreign / "holiday.jpg")
    assert (foreign / "holiday.jpg").read_bytes() == b"precious"


def test_fresh_refuses_to_wipe_a_running_localnet(tmp_path: Path) -> None:
    home = tmp_path / "ln"
    prepare_localnet(home)
    node_home = str(home / "bank-a")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", node_home])
    try:
        cmdline = Path(f"/proc/{sleeper.pid}/cmdline")
        while cmdline.exists() and not cmdline.read_bytes():  # just forked, not exec'd yet
            time.sleep(0.01)
        document = json.loads((home / ENDPOINTS_FILE).read_text())
        document["nodes"][0]["pid"] = sleeper.pid
        document["nodes"][1]["pid"] = os.getpid()  # alive, but not a node of this folder
        generate.write_endpoints(home, document)
        assert generate.get_running_pids(home) == [sleeper.pid]
        with pytest.raises(LocalnetError, match=f"running \\(pids {sleeper.pid}\\)"):
            prepare_localnet(home, fresh=True)
        assert (home / "bank-a" / "node_key.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert prepare_localnet(home, fresh=True)[1]


def test_a_damaged_node_home_is_reported_by_name(tmp_path: Path) -> None:
    home = tmp_path / "ln"
    prepare_localnet(home)
    config = home / "bank-c" / "config.toml"
    config.write_text(config.read_text().replace("[rpc]", "[rpc]\nadmin_enable = true"))
    with pytest.raises(LocalnetError, match=r"bank-c: .*admin_enable.*--fresh"):
        load_localnet(home)
    (home / "bank-b" / "node_key.json").unlink()
    with pytest.raises(LocalnetError, match="bank-b"):
        prepare_localnet(home)


def test_a_node_key_swapped_behind_our_back_is_caught(tmp_path: Path) -> None:
    home = tmp_path / "ln"
    prepare_localnet(home)
    other = (home / "bank-b" / "node_key.json").read_bytes()
    (home / "bank-a" / "node_key.json").write_bytes(other)
    with pytest.raises(LocalnetError, match=r"bank-a: node_key\.json differs"):
        load_localnet(home)


def test_failed_generation_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def failing_write_key(path: Path, key: Any) -> None:
        calls.append(path)
        if len(calls) == 6:
            raise OSError(28, "No space left on device")
        real_write_key(path, key)

    real_write_key = generate.write_key
    monkeypatch.setattr(generate, "write_key", failing_write_key)
    with pytest.raises(OSError, match="No space"):
        prepare_localnet(tmp_path / "ln")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# the examples in configs/localnet are what the generator writes with the public seed


def test_example_configs_match_the_seeded_generator() -> None:
    """configs/localnet/*.toml are what the generator writes with the public seed "example"."""
    plan = compute_plan(keys=make_key_source("example"), genesis_time_ms=0)
    for node in plan.nodes:
        config = localnet_plan.compute_node_config(plan, node)
        header = localnet_plan.compute_config_header(node, len(plan.nodes), seeded=True)
        path = REPO / "configs" / "localnet" / f"{node.moniker}.toml"
        assert load_config(path) == config, node.moniker
        assert path.read_text() == dump_config(config, header=header), node.moniker


def test_cli_localnet_no_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "ln")
    argv = ["localnet", "--home", home, "--no-start", "--base-port", str(BASE)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Generated localnet" in out and f"rpc http://127.0.0.1:{BASE + 1}" in out
    assert main(["localnet", "--home", home, "--no-start"]) == 0
    assert "Reusing localnet" in capsys.readouterr().out
    assert main(["localnet", "--home", home, "--no-start", "--validators", "3"]) == 1
    assert "--fresh" in capsys.readouterr().err
    assert main([*argv, "--fresh", "--validators", "2"]) == 0
    assert len(load_localnet(Path(home)).nodes) == 2
