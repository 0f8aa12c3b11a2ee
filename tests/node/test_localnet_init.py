"""`depochain init`: one node home, single-validator genesis or a given one, no silent overwrite."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from consensus.ledger import build_genesis_state, get_validators
from consensus.ledger.records import Role
from node.cli import main
from node.cli.init import compute_participant_id, init_home
from node.config import load_config
from node.home import load_genesis, load_key
from node.localnet import LocalnetError, prepare_localnet


def test_init_writes_a_single_validator_home(tmp_path: Path) -> None:
    home = tmp_path / "bank-x"
    result = init_home(home, chain_id="solo-1")
    config = load_config(home / "config.toml")
    genesis = load_genesis(home / "genesis.json")
    validator_key = load_key(home / "validator_key.json").public_key
    assert result.node_id == load_key(home / "node_key.json").public_key.hex()
    assert result.validator_public_key == validator_key.hex()
    assert config.node.chain_id == genesis.chain_id == "solo-1"
    assert config.node.moniker == "bank-x" and config.get_home_path(home) == home
    # secure defaults: RPC on loopback, no admin routes
    assert config.rpc.listen_host == "127.0.0.1" and not config.rpc.admin_enabled
    assert genesis.params == config.consensus.to_params()
    state = build_genesis_state(genesis.ledger)
    assert get_validators(state, 1) == ((validator_key, 10),)
    (participant,) = genesis.ledger.participants
    assert participant.participant_id == result.participant_id == "BANK_X"
    assert participant.roles == {Role.BANK, Role.VALIDATOR}
    operator = load_key(home / "participants" / "BANK_X.json")
    assert participant.keys == (operator.public_key,)
    for name in ("node_key.json", "validator_key.json", "participants/BANK_X.json"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    assert (home / "data").is_dir()


def test_init_refuses_an_existing_home_unless_forced(tmp_path: Path) -> None:
    home = tmp_path / "n"
    first = init_home(home, chain_id="c-1")
    (home / "data" / "chain.db").mkdir()
    with pytest.raises(LocalnetError, match="--force"):
        init_home(home, chain_id="c-1")
    assert load_key(home / "node_key.json").public_key.hex() == first.node_id
    second = init_home(home, chain_id="c-2", force=True)
    assert second.node_id != first.node_id
    assert load_config(home / "config.toml").node.chain_id == "c-2"
    assert not (home / "data" / "chain.db").exists()


def test_init_joins_a_given_genesis(tmp_path: Path) -> None:
    net, _ = prepare_localnet(tmp_path / "ln")
    genesis_file = net.home / "genesis.json"
    result = init_home(tmp_path / "observer", chain_id=None, genesis_file=genesis_file)
    assert result.chain_id == "depochain-localnet" and result.participant_id is None
    assert (tmp_path / "observer" / "genesis.json").read_bytes() == genesis_file.read_bytes()
    assert not (tmp_path / "observer" / "participants").exists()
    with pytest.raises(LocalnetError, match="differs from the genesis"):
        init_home(tmp_path / "other", chain_id="else", genesis_file=genesis_file)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chain_id": None}, "--chain-id is required"),
        ({"chain_id": "bad id!"}, "--chain-id must be"),
        ({"chain_id": "c", "moniker": "x" * 65}, "--moniker must be"),
        ({"chain_id": "c", "p2p_port": 70000}, "--p2p-port"),
        ({"chain_id": "c", "p2p_port": 5000, "rpc_port": 5000}, "must differ"),
    ],
)
def test_init_rejects_bad_arguments_and_writes_nothing(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(LocalnetError, match=message):
        init_home(tmp_path / "n", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "n").exists()


def test_init_rejects_a_broken_genesis_file(tmp_path: Path) -> None:
    bad = tmp_path / "genesis.json"
    bad.write_text(json.dumps({"chain_id": "x", "ledger": {"chain_id": "x"}}))
    with pytest.raises(LocalnetError, match="invalid genesis"):
        init_home(tmp_path / "n", chain_id=None, genesis_file=bad)
    with pytest.raises(LocalnetError, match="cannot read"):
        init_home(tmp_path / "n", chain_id=None, genesis_file=tmp_path / "missing.json")
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    ("moniker", "expected"), [("bank-a", "BANK_A"), ("node7", "NODE7"), ("7up", "NODE")]
)
def test_participant_id_from_moniker(moniker: str, expected: str) -> None:
    assert compute_participant_id(moniker) == expected


def test_cli_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "n"
    assert main(["init", "--home", str(home), "--chain-id", "cli-1", "--moniker", "m1"]) == 0
    out = capsys.readouterr().out
    assert load_key(home / "validator_key.json").public_key.hex() in out
    assert "depochain start --home" in out
    assert main(["init", "--home", str(home), "--chain-id", "cli-1"]) == 1
    assert "--force" in capsys.readouterr().err
