"""`depochain genesis card|build|join`: cards from real homes, a genesis every home accepts,
and the refusals that protect a bank from a wrong genesis or an overwritten chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.cli import main
from node.config import load_config
from node.home import load_genesis


def make_banks(tmp_path: Path, count: int = 3) -> list[Path]:
    """`init` and `genesis card` for ``count`` banks; the card files."""
    cards = []
    for index in range(count):
        home, port = tmp_path / f"bank-{index}", 30000 + 10 * index
        assert main(["init", "--home", str(home), "--chain-id", "net-1", "--moniker", f"b{index}",
                     "--p2p-port", str(port), "--rpc-port", str(port + 1)]) == 0  # fmt: skip
        card = tmp_path / f"b{index}.card.json"
        assert main(["genesis", "card", "--home", str(home), "--p2p", f"10.0.0.{index + 1}:26656",
                     "--out", str(card)]) == 0  # fmt: skip
        cards.append(card)
    return cards


def test_every_bank_joins_the_built_genesis_and_peers_with_the_others(tmp_path: Path) -> None:
    cards = make_banks(tmp_path)
    genesis = tmp_path / "genesis.json"
    assert main(["genesis", "build", "--chain-id", "net-1", "--out", str(genesis),
                 *map(str, cards)]) == 0  # fmt: skip
    validators = [p for p in load_genesis(genesis).ledger.participants if p.validator_key]
    assert [p.participant_id for p in validators] == ["B0", "B1", "B2"]
    for index in range(3):
        home = tmp_path / f"bank-{index}"
        assert main(["genesis", "join", "--home", str(home), "--genesis", str(genesis),
                     *map(str, cards)]) == 0  # fmt: skip
        assert (home / "genesis.json").read_bytes() == genesis.read_bytes()
        peers = load_config(home / "config.toml").p2p.get_peers()
        assert sorted(p.host for p in peers) == sorted(
            f"10.0.0.{i + 1}" for i in range(3) if i != index
        )


def test_join_refuses_a_genesis_without_this_validator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = make_banks(tmp_path)
    genesis = tmp_path / "genesis.json"
    assert main(["genesis", "build", "--chain-id", "net-1", "--out", str(genesis),
                 *map(str, cards[:2])]) == 0  # fmt: skip
    before = (tmp_path / "bank-2" / "config.toml").read_text()
    argv = ["genesis", "join", "--home", str(tmp_path / "bank-2"), "--genesis", str(genesis)]
    assert main([*argv, *map(str, cards)]) == 1
    assert "a validator" in capsys.readouterr().err
    assert (tmp_path / "bank-2" / "config.toml").read_text() == before


def test_join_refuses_a_home_that_holds_a_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = make_banks(tmp_path, 1)
    genesis = tmp_path / "genesis.json"
    assert (
        main(["genesis", "build", "--chain-id", "net-1", "--out", str(genesis), str(cards[0])]) == 0
    )
    (tmp_path / "bank-0" / "data" / "chain.db").mkdir(parents=True)
    argv = ["genesis", "join", "--home", str(tmp_path / "bank-0"), "--genesis", str(genesis)]
    assert main([*argv, str(cards[0])]) == 1
    assert "already holds a chain" in capsys.readouterr().err


def test_build_refuses_duplicates_bad_addresses_and_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = make_banks(tmp_path, 1)
    out = tmp_path / "genesis.json"
    build = ["genesis", "build", "--chain-id", "net-1", "--out", str(out)]
    assert main([*build, str(cards[0]), str(cards[0])]) == 1
    assert "unique" in capsys.readouterr().err
    document = json.loads(cards[0].read_text())
    bad = tmp_path / "bad.card.json"
    bad.write_text(json.dumps({**document, "p2p": "no-port"}))
    assert main([*build, str(bad)]) == 1
    assert "host:port" in capsys.readouterr().err
    assert not out.exists()
    assert main([*build, str(cards[0])]) == 0
    assert main([*build, str(cards[0])]) == 1
    assert "never overwritten" in capsys.readouterr().err


def test_init_rpc_host_for_a_container(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "box"
    argv = ["init", "--home", str(home), "--chain-id", "net-1", "--rpc-host"]
    assert main([*argv, "bad host!"]) == 1
    assert "--rpc-host" in capsys.readouterr().err and not home.exists()
    assert main([*argv, "0.0.0.0"]) == 0
    assert load_config(home / "config.toml").rpc.listen_host == "0.0.0.0"
