"""The other direction: stored bytes, read by today's decoders, must mean the stated inputs.

Recomputing (``test_vectors``) proves the code still produces the stored bytes; these checks
prove that the stored bytes decode to exactly the values the vector states, that the signatures
in them verify, and that the positional layouts the files document are the real ones. Each
``check_*`` takes one stored vector, its file and every stored file; it raises AssertionError.
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.bindings
import nacl.public

from consensus import codec, crypto
from consensus.blocks import Block, Header, validate_block_shape
from consensus.certificate import verify_certificate
from consensus.crypto import MerkleProof, SignPurpose
from consensus.evidence import verify_evidence
from consensus.ledger import (
    Code,
    GenesisDoc,
    Receipt,
    State,
    decode_receipts,
    decode_tx,
    get_validators,
    verify_tx_signatures,
)
from consensus.ledger.commitment import build_state_tree
from consensus.ledger.state import META_KEY, encode_meta, get_reader
from consensus.merkle import Proof, build_tree, verify_range
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote
from consensus.params import ConsensusParams
from consensus.proposal import Proposal
from consensus.types import ChainId
from consensus.validators import ValidatorSet
from consensus.wire import decode_message
from node.p2p.frames import HEADER, FrameKind, FrameOpener
from node.p2p.handshake import AuthMessage

from .jsonform import Json, to_json, unhex

Check = Callable[[Json, Json, dict[str, Json]], None]


def _is_scalar(value: Json) -> bool:
    return value is None or isinstance(value, bool | int | str)


def check_layout(decoded: Json, layout: list[str], stated: dict[str, Json], what: str) -> None:
    """``decoded`` is a positional list whose i-th item is the stated value named layout[i]."""
    assert isinstance(decoded, list) and len(decoded) == len(layout), f"{what}: not {layout}"
    for position, name in enumerate(layout):
        if name in stated and _is_scalar(stated[name]):
            assert to_json(decoded[position]) == stated[name], (
                f"{what}: item {position} should be {name}={stated[name]!r}"
            )


def check_signed(signer: Json, chain_id: str, purpose: SignPurpose, expected: Json) -> None:
    """The signer's seed gives its key; sign-bytes wrap the payload; the signature verifies."""
    public_key = crypto.PrivateKey(unhex(signer["seed"])).public_key
    assert public_key.hex() == signer["public_key"], "seed does not give the stated key"
    payload, message = unhex(expected["sign_payload"]), unhex(expected["sign_bytes"])
    assert codec.decode(message) == [crypto.SIGN_DOMAIN, int(purpose), chain_id, payload]
    assert crypto.verify_raw(public_key, message, unhex(expected["signature"]))


def _decode_hex(text: str) -> Json:
    return codec.decode(unhex(text))


def _stated_set(stored: dict[str, Json]) -> ValidatorSet:
    vector = stored["validator_sets.json"]["vectors"][0]
    return ValidatorSet.from_wire(codec.decode(unhex(vector["expected"]["encoding"])))


# ---------------------------------------------------------------------------------------------
# consensus messages


def check_vote(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    stated = {k: v for k, v in inputs.items() if k not in ("chain_id", "signer")}
    stated["signature"] = expected["signature"]
    vote = Vote.from_wire(codec.decode(unhex(expected["vote_encoding"])))
    assert to_json(vote) == stated, "vote encoding decodes to other values"
    assert decode_message(unhex(expected["message"])) == vote
    layouts = document["layouts"]
    check_layout(_decode_hex(expected["vote_encoding"]), layouts["vote_encoding"], stated, "vote")
    payload = _decode_hex(expected["sign_payload"])
    check_layout(payload, layouts["sign_payload"], stated, "vote sign payload")
    check_signed(inputs["signer"], inputs["chain_id"], SignPurpose.VOTE, expected)
    assert vote.is_signature_valid(ChainId(inputs["chain_id"]))


def check_proposal(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    proposal = decode_message(unhex(expected["message"]))
    assert isinstance(proposal, Proposal)
    got = {
        "height": proposal.height,
        "round": proposal.round,
        "pol_round": proposal.pol_round,
        "block_hash": proposal.block.hash.hex(),
        "block_encoding": proposal.block.encode().hex(),
        "proposer": proposal.proposer.hex(),
    }
    assert got == {k: inputs[k] for k in got}, "proposal message decodes to other values"
    assert proposal.signature.hex() == expected["signature"]
    payload = _decode_hex(expected["sign_payload"])
    check_layout(payload, document["layouts"]["sign_payload"], inputs, "proposal sign payload")
    check_signed(inputs["signer"], inputs["chain_id"], SignPurpose.PROPOSAL, expected)
    assert proposal.is_signature_valid(ChainId(inputs["chain_id"]))


def check_block(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    block = Block.decode(unhex(expected["block_encoding"]))
    assert to_json(block.header) == inputs["header"], "block encoding has another header"
    assert [tx.hex() for tx in block.txs] == inputs["txs"]
    assert to_json(block.evidence) == inputs["evidence"]
    header_encoding = unhex(expected["header_encoding"])
    wire = codec.decode(header_encoding)
    assert Header.from_wire(wire) == block.header
    check_layout(wire, document["layouts"]["header_encoding"], inputs["header"], "header")
    assert crypto.sha256(header_encoding).hex() == expected["hash"] == block.hash.hex()
    assert inputs["header"]["txs_root"] == expected["txs_root"]
    assert inputs["header"]["evidence_hash"] == expected["evidence_hash"]
    validate_block_shape(block, ConsensusParams())


def check_validator_set(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    encoding = unhex(expected["encoding"])
    vset = ValidatorSet.from_wire(codec.decode(encoding))
    stated = [[v["key"]["public_key"], v["power"]] for v in inputs["validators"]]
    assert [[v.public_key.hex(), v.power] for v in vset.validators] == stated
    for v in inputs["validators"]:
        assert crypto.PrivateKey(unhex(v["key"]["seed"])).public_key.hex() == v["key"]["public_key"]
    assert crypto.sha256(encoding).hex() == expected["hash"]


def check_certificate(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    encoding = unhex(expected["encoding"])
    cert = CommitCertificate.decode(encoding)
    stated = {k: v for k, v in inputs.items() if k != "chain_id"}
    assert to_json(cert) == stated, "certificate encoding decodes to other values"
    check_layout(codec.decode(encoding), document["layouts"]["encoding"], stated, "certificate")
    assert crypto.sha256(encoding).hex() == expected["sha256"]
    vset = _stated_set(stored)
    assert vset.compute_hash().hex() == expected["validators_hash"]
    chain_id = ChainId(inputs["chain_id"])
    verify_certificate(cert, cert.block_hash, cert.height, vset, chain_id)
    payload = _decode_hex(expected["precommit_sign_payload"])
    vote_payload_layout = stored["votes.json"]["layouts"]["sign_payload"]
    check_layout(payload, vote_payload_layout, {"type": 2, **stated}, "precommit sign payload")
    message = unhex(expected["precommit_sign_bytes"])
    assert codec.decode(message)[3] == unhex(expected["precommit_sign_payload"])


def check_evidence(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    encoding = unhex(expected["encoding"])
    evidence = DuplicateVoteEvidence.from_wire(codec.decode(encoding))
    assert to_json(evidence.vote_a) == inputs["vote_a"]
    assert to_json(evidence.vote_b) == inputs["vote_b"]
    assert crypto.sha256(encoding).hex() == expected["hash"] == evidence.compute_hash().hex()
    assert decode_message(unhex(expected["message"])) == evidence
    assert crypto.merkle_root([encoding]).hex() == expected["evidence_hash_of_list"]
    verify_evidence(evidence, _stated_set(stored), ChainId(inputs["chain_id"]))


def check_merkle(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    leaves = [unhex(leaf) for leaf in vector["inputs"]["leaves"]]
    expected = vector["expected"]
    root = unhex(expected["root"])
    assert len(expected["proofs"]) == len(leaves)
    for index, stated in enumerate(expected["proofs"]):
        proof = MerkleProof.from_wire(codec.decode(unhex(stated["encoding"])))
        assert (proof.index, proof.total) == (index, len(leaves))
        assert (stated["index"], stated["total"]) == (index, len(leaves))
        assert [aunt.hex() for aunt in proof.aunts] == stated["aunts"]
        assert crypto.verify_merkle_proof(root, leaves[index], proof), f"proof {index} fails"
    if len(leaves) == 1:
        assert expected["root"] == expected["leaf_hashes"][0]


def check_state_tree(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    root = unhex(expected["root"])
    if "items" in inputs:
        items = [(unhex(k), unhex(v)) for k, v in inputs["items"]]
        assert build_tree(items).root_hash == root, "the items have another root"
    else:
        headers = {v["name"]: v["inputs"]["header"] for v in stored["blocks.json"]["vectors"]}
        assert headers["block_1"]["app_hash"] == expected["root"]  # genesis app hash
    for query in expected["queries"]:
        proof = Proof.decode(unhex(query["proof_encoding"]))
        hi = None if query["hi"] is None else unhex(query["hi"])
        proven = verify_range(root, unhex(query["lo"]), hi, proof)
        assert [[k.hex(), v.hex()] for k, v in proven] == query["proven_items"], query["what"]


# ---------------------------------------------------------------------------------------------
# ledger


def check_tx(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    raw = unhex(expected["tx_bytes"])
    tx = decode_tx(raw)
    assert to_json(tx.unsigned) == inputs["tx"], "tx bytes decode to another tx"
    signatures = [{"public_key": k.hex(), "signature": s.hex()} for k, s in tx.signatures]
    assert signatures == expected["signatures"]
    assert {s["public_key"] for s in signatures} == {k["public_key"] for k in inputs["signers"]}
    assert crypto.sha256(raw).hex() == expected["tx_hash"] == tx.tx_hash().hex()
    assert verify_tx_signatures(tx)
    assert codec.encode(tx.unsigned.to_wire()) == unhex(expected["sign_payload"])
    stated = {**inputs["tx"], "type": inputs["tx"]["body"]["type"]}
    payload = _decode_hex(expected["sign_payload"])
    check_layout(payload, document["layouts"]["sign_payload"], stated, "tx sign payload")
    for signer, signature in zip(inputs["signers"], expected["signatures"], strict=True):
        assert signer["public_key"] == signature["public_key"], "signatures sorted by key"
        one = {**expected, "signature": signature["signature"]}
        check_signed(signer, inputs["tx"]["chain_id"], SignPurpose.TRANSACTION, one)


def check_receipts(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    receipts = decode_receipts(unhex(expected["block_results_encoding"]))
    assert to_json(receipts) == inputs["receipts"], "receipts decode to other values"
    singles = tuple(Receipt.decode(unhex(r)) for r in expected["receipt_encodings"])
    assert singles == receipts
    leaves = [unhex(r) for r in expected["receipt_encodings"]]
    assert crypto.merkle_root(leaves).hex() == expected["results_hash"]
    headers = {v["name"]: v["inputs"]["header"] for v in stored["blocks.json"]["vectors"]}
    height = int(vector["name"].split("_")[1])  # "block_<h>_receipts"
    following = headers.get(f"block_{height + 1}")
    if following is not None:  # the next header commits to these receipts
        assert following["last_results_hash"] == expected["results_hash"]


def check_ledger(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    steps = {v["name"]: v for v in document["vectors"]}
    headers = {v["name"]: v["inputs"]["header"] for v in stored["blocks.json"]["vectors"]}
    if vector["name"] == "genesis":
        GenesisDoc.from_json_dict(inputs["genesis"])  # the stated document is valid
        meta = encode_meta(0, unhex(expected["app_hash"]))
        pairs = [(unhex(k), unhex(v)) for k, v in expected["state"]]
        state = State.from_kv([*pairs, (META_KEY, meta)])  # decodes every value strictly
        assert to_json(get_validators(state, 1)) == expected["validators_height_1"]
        assert headers["block_1"]["app_hash"] == expected["app_hash"]
        assert build_state_tree(pairs, 0).root_hash.hex() == expected["app_hash"]
        return
    height = inputs["height"]
    previous = steps["genesis" if height == 1 else f"block_{height - 1}"]
    assert inputs["previous_app_hash"] == previous["expected"]["app_hash"]
    assert headers[f"block_{height}"]["app_hash"] == inputs["previous_app_hash"]
    assert headers[f"block_{height}"]["time_ms"] == inputs["time_ms"]
    for raw in inputs["txs"]:
        decode_tx(unhex(raw))
    assert len(expected["receipt_codes"]) == len(inputs["txs"])
    for code in expected["receipt_codes"]:
        Code(code)  # raises for a code the ledger does not know
    for key, value in expected["state_changes"]:
        if value is not None:
            get_reader(unhex(key))(codec.decode(unhex(value)))
    state: dict[bytes, bytes] = {
        unhex(k): unhex(v) for k, v in steps["genesis"]["expected"]["state"]
    }
    for step in range(1, height + 1):  # the state after this block: genesis, then each change
        for key, value in steps[f"block_{step}"]["expected"]["state_changes"]:
            if value is None:
                state.pop(unhex(key), None)
            else:
                state[unhex(key)] = unhex(value)
    assert build_state_tree(state.items(), height).root_hash.hex() == expected["app_hash"]


# ---------------------------------------------------------------------------------------------
# P2P handshake


def _open_frames(key: bytes, frames: list[bytes]) -> list[tuple[FrameKind, bytes]]:
    opener = FrameOpener(key, 1 << 16)
    return [opener.open(f[: HEADER.size], f[HEADER.size :]) for f in frames]


def check_handshake(vector: Json, document: Json, stored: dict[str, Json]) -> None:
    inputs, expected = vector["inputs"], vector["expected"]
    chain_id = ChainId(inputs["chain_id"])
    assert expected["dialer"]["challenge"] == expected["listener"]["challenge"]
    for side, peer in (("dialer", "listener"), ("listener", "dialer")):
        ours, theirs = expected[side], expected[peer]
        secret = unhex(inputs[side]["ephemeral_secret"])
        public = bytes(nacl.public.PrivateKey(secret).public_key)
        assert public.hex() == ours["ephemeral_public"]
        shared = nacl.bindings.crypto_scalarmult(secret, unhex(theirs["ephemeral_public"]))
        assert shared.hex() == expected["shared_secret"]
        assert ours["hello"] == inputs["magic"] + ours["ephemeral_public"]
        assert ours["wire"] == ours["hello"] + ours["auth_frame"] + ours["message_frame"]
        assert ours["send_key"] == theirs["recv_key"]
        frames = [unhex(ours["auth_frame"]), unhex(ours["message_frame"])]
        (auth_kind, auth_body), (kind, body) = _open_frames(unhex(ours["send_key"]), frames)
        assert (auth_kind, kind) == (FrameKind.AUTH, FrameKind.MESSAGE)
        assert auth_body.hex() == ours["auth_message"]
        assert body.hex() == inputs[side]["first_payload"]
        auth = AuthMessage.from_wire(codec.decode(auth_body))
        static = inputs[side]["static_key"]
        assert (auth.public_key.hex(), auth.chain_id) == (static["public_key"], chain_id)
        challenge = unhex(ours["challenge"])
        assert crypto.verify(
            auth.public_key, SignPurpose.P2P_HANDSHAKE, chain_id, challenge, auth.signature
        )
        sign_bytes = unhex(ours["auth_sign_bytes"])
        assert crypto.verify_raw(auth.public_key, sign_bytes, auth.signature)


CHECKS: dict[str, Check] = {
    "votes.json": check_vote,
    "proposals.json": check_proposal,
    "blocks.json": check_block,
    "validator_sets.json": check_validator_set,
    "certificates.json": check_certificate,
    "evidence.json": check_evidence,
    "merkle.json": check_merkle,
    "txs.json": check_tx,
    "receipts.json": check_receipts,
    "ledger.json": check_ledger,
    "state_tree.json": check_state_tree,
    "handshake.json": check_handshake,
}
"""file name -> the decoding check of each of its vectors."""
