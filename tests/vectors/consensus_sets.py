"""Vectors of the consensus messages: votes, proposals, headers and blocks, validator sets,
commit certificates, duplicate-vote evidence and Merkle trees.

Each ``*_document()`` recomputes one file from the fixed inputs with today's code.
"""

from __future__ import annotations

from consensus import codec, crypto
from consensus.blocks import Block, compute_evidence_hash, compute_txs_root
from consensus.crypto import SIGN_DOMAIN, SignPurpose
from consensus.leader import compute_window_size, get_proposer, is_probe_height
from consensus.messages import Vote, VoteType
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.types import Height, Round
from consensus.validators import ValidatorSet
from consensus.wire import MessageTag, encode_message

from .chain import VALIDATOR_NAMES, build_chain, sign_vote, validator_name
from .jsonform import Json, enum_table, to_json
from .store import make_document, make_vector
from .world import CHAIN_ID, key, key_json

SIGN_BYTES_LAYOUT = ["domain", "purpose", "chain_id", "payload"]
SIGN_BYTES_NOTE = f"domain is the bytes {SIGN_DOMAIN.decode()!r}; payload is a bin (bytes)"
VOTE_PAYLOAD_LAYOUT = ["type", "height", "round", "block_hash"]
VOTE_LAYOUT = [
    "type",
    "height",
    "round",
    "block_hash",
    "validator_index",
    "validator",
    "signature",
]
PROPOSAL_PAYLOAD_LAYOUT = ["height", "round", "pol_round", "block_hash"]
PROPOSAL_LAYOUT = ["height", "round", "pol_round", "block", "proposer", "signature"]
HEADER_LAYOUT = [
    "chain_id",
    "height",
    "time_ms",
    "proposer",
    "parent_hash",
    "last_commit",
    "txs_root",
    "app_hash",
    "last_results_hash",
    "validators_hash",
    "evidence_hash",
]
CERTIFICATE_LAYOUT = ["height", "round", "block_hash", "signatures"]
COMMIT_SIG_LAYOUT = ["validator_index", "signature"]
EVIDENCE_LAYOUT = ["kind", "vote_a", "vote_b"]
MESSAGE_LAYOUT = ["tag", "body"]


def sign_bytes(purpose: SignPurpose, payload: bytes) -> bytes:
    return crypto.compute_sign_bytes(purpose, CHAIN_ID, payload)


# ---------------------------------------------------------------------------------------------
# votes


def vote_inputs(vote: Vote, signer: str) -> Json:
    fields = to_json(vote)
    del fields["signature"]
    return {"chain_id": CHAIN_ID, "signer": key_json(signer), **fields}


def vote_expected(vote: Vote) -> Json:
    payload = vote.sign_payload()
    return {
        "sign_payload": payload.hex(),
        "sign_bytes": sign_bytes(SignPurpose.VOTE, payload).hex(),
        "signature": vote.signature.hex(),
        "vote_encoding": codec.encode(vote.to_wire()).hex(),
        "message": encode_message(vote).hex(),
    }


def votes_document() -> Json:
    chain = build_chain()
    vset, blocks = chain.validator_set, chain.blocks
    b1, b3 = blocks[0].block.hash, blocks[2].block.hash
    cases = [
        ("prevote_block_1", "CB's validator prevotes block 1 at round 0",
         sign_vote(VoteType.PREVOTE, 1, 0, b1, vset, "CB-validator")),
        ("precommit_block_2", "the first precommit in block 2's certificate",
         blocks[1].precommits[0]),
        ("prevote_nil_round_1", "a nil prevote (block_hash null) at height 3, round 1",
         sign_vote(VoteType.PREVOTE, 3, 1, None, vset, "BANKA-validator")),
        ("precommit_nil_wide_ints", "nil precommit, height and round in 32- and 16-bit msgpack",
         sign_vote(VoteType.PRECOMMIT, 70_000, 300, None, vset, "BANKB-validator")),
        ("precommit_uint64_height", "precommit with a 64-bit height and a 32-bit round",
         sign_vote(VoteType.PRECOMMIT, 2**32 + 5, 2**16 + 1, b3, vset, "BANKC-validator")),
    ]  # fmt: skip
    vectors = [
        make_vector(
            name,
            text,
            vote_inputs(vote, validator_name(vset, vote.validator_index)),
            vote_expected(vote),
        )
        for name, text, vote in cases
    ]
    return make_document(
        "Votes: the payload a validator signs, the Ed25519 sign-bytes around it, the signature "
        "(RFC 8032, key from 'seed'), the vote's encoding and the network message. "
        + SIGN_BYTES_NOTE,
        vectors,
        enums=enum_table(VoteType, SignPurpose, MessageTag),
        layouts={
            "sign_bytes": SIGN_BYTES_LAYOUT,
            "sign_payload": VOTE_PAYLOAD_LAYOUT,
            "vote_encoding": VOTE_LAYOUT,
            "message": MESSAGE_LAYOUT,
        },
    )


# ---------------------------------------------------------------------------------------------
# proposals


def _proposal(block: Block, round_: int, pol_round: int) -> tuple[Proposal, str]:
    """The proposal of ``block`` at ``round_`` by that round's proposer."""
    vset = build_chain().validator_set
    proposer = vset.proposer(block.height, round_).public_key
    signer = next(n for n in VALIDATOR_NAMES if key(n).public_key == proposer)
    payload = compute_proposal_sign_payload(block.height, round_, pol_round, block.hash)
    signature = key(signer).sign(SignPurpose.PROPOSAL, CHAIN_ID, payload)
    return Proposal(block.height, Round(round_), pol_round, block, proposer, signature), signer


def proposals_document() -> Json:
    blocks = build_chain().blocks
    cases = [
        ("proposal_block_1", "the proposer of (1, 0) proposes block 1; no valid round (-1)",
         *_proposal(blocks[0].block, 0, -1)),
        ("reproposal_block_3_round_1", "the proposer of (3, 1) re-proposes block 3, valid round 0",
         *_proposal(blocks[2].block, 1, 0)),
    ]  # fmt: skip
    vectors = []
    for name, text, proposal, signer in cases:
        payload = proposal.sign_payload()
        inputs = {
            "chain_id": CHAIN_ID,
            "signer": key_json(signer),
            "height": proposal.height,
            "round": proposal.round,
            "pol_round": proposal.pol_round,
            "block_hash": proposal.block.hash.hex(),
            "block_encoding": proposal.block.encode().hex(),
            "proposer": proposal.proposer.hex(),
        }
        expected = {
            "sign_payload": payload.hex(),
            "sign_bytes": sign_bytes(SignPurpose.PROPOSAL, payload).hex(),
            "signature": proposal.signature.hex(),
            "message": encode_message(proposal).hex(),
        }
        vectors.append(make_vector(name, text, inputs, expected))
    return make_document(
        "Proposals: sign payload, sign-bytes, signature and network message. The block is one of "
        "blocks.json's. " + SIGN_BYTES_NOTE,
        vectors,
        enums=enum_table(SignPurpose, MessageTag),
        layouts={
            "sign_bytes": SIGN_BYTES_LAYOUT,
            "sign_payload": PROPOSAL_PAYLOAD_LAYOUT,
            "message": MESSAGE_LAYOUT,
            "message.body": PROPOSAL_LAYOUT,
        },
    )


# ---------------------------------------------------------------------------------------------
# headers and blocks, validator sets


def blocks_document() -> Json:
    vectors = []
    for item in build_chain().blocks:
        block = item.block
        inputs = {
            "header": to_json(block.header),
            "txs": [tx.hex() for tx in block.txs],
            "evidence": to_json(block.evidence),
        }
        expected = {
            "header_encoding": codec.encode(block.header.to_wire()).hex(),
            "hash": block.hash.hex(),
            "txs_root": compute_txs_root(block.txs).hex(),
            "evidence_hash": compute_evidence_hash(block.evidence).hex(),
            "block_encoding": block.encode().hex(),
        }
        text = f"block {block.height} of the vector chain (see ledger.json for its execution)"
        vectors.append(make_vector(f"block_{block.height}", text, inputs, expected))
    return make_document(
        "Headers and blocks. The block hash is sha256 of the header encoding; txs_root is the "
        "RFC 6962 Merkle root of the raw txs, evidence_hash the root of the evidence encodings.",
        vectors,
        layouts={
            "header_encoding": HEADER_LAYOUT,
            "header.last_commit": CERTIFICATE_LAYOUT,
            "block_encoding": ["header", "txs", "evidence"],
        },
    )


PROPOSER_HEIGHTS = range(1, 6)
PROPOSER_ROUNDS = range(3)


def _skip_cases(vset: ValidatorSet, height: int) -> list[set[int]]:
    """The plain pick absent; it and its successor absent; everyone absent (plain again)."""
    plain = vset.get_index(vset.proposer(Height(height), Round(0)).public_key)
    after = vset.get_index(vset.proposer(Height(height + 1), Round(0)).public_key)
    assert plain is not None and after is not None
    return [{plain}, {plain, after}, set(range(len(vset)))]


def _skipping_pick(vset: ValidatorSet, height: int, absent: set[int]) -> int | None:
    skips = frozenset(vset.validators[i].public_key for i in absent)
    return vset.get_index(get_proposer(vset, height, 0, skips).public_key)


def validator_sets_document() -> Json:
    vset = build_chain().validator_set
    inputs = {
        "validators": [
            {"key": key_json(validator_name(vset, i)), "power": v.power}
            for i, v in enumerate(vset.validators)
        ]
    }
    expected = {
        "encoding": codec.encode(vset.to_wire()).hex(),
        "hash": vset.compute_hash().hex(),
        "proposer_index": [
            [h, r, vset.get_index(vset.proposer(Height(h), Round(r)).public_key)]
            for h in PROPOSER_HEIGHTS
            for r in PROPOSER_ROUNDS
        ],
        "round_0_proposer_skipping": [
            [h, sorted(skipped), _skipping_pick(vset, h, skipped)]
            for h in PROPOSER_HEIGHTS
            for skipped in _skip_cases(vset, h)
        ],
        "leader_window_blocks": compute_window_size(vset),
        "probe_heights_up_to_40": [h for h in range(1, 41) if is_probe_height(vset, h)],
    }
    text = "the genesis validator set (sorted by public key; index = position)"
    return make_document(
        "Validator sets: encoding, hash (a header's validators_hash), the plain rotation's "
        "proposer of each (height, round) as [height, round, validator index], and round 0's "
        "proposer when validators are shown absent as [height, [absent validator indexes], "
        "validator index]; the number W of last blocks that decide who is shown absent (none "
        "of them proposed by it or carrying its precommit) and the probe heights, where round "
        "0 keeps the plain rotation (docs/consensus-leader.md).",
        [make_vector("genesis_validators", text, inputs, expected)],
        layouts={"encoding": ["[public_key, power], ... sorted by public_key"]},
    )


# ---------------------------------------------------------------------------------------------
# certificates and evidence


def certificates_document() -> Json:
    chain = build_chain()
    vectors = []
    for item in chain.blocks:
        cert = item.certificate
        payload = item.precommits[0].sign_payload()
        inputs = {"chain_id": CHAIN_ID, **to_json(cert)}
        expected = {
            "encoding": cert.encode().hex(),
            "sha256": crypto.sha256(cert.encode()).hex(),
            "precommit_sign_payload": payload.hex(),
            "precommit_sign_bytes": sign_bytes(SignPurpose.VOTE, payload).hex(),
            "validators_hash": chain.validator_set.compute_hash().hex(),
        }
        text = f"certificate of block {cert.height}: all precommits but one bank validator's"
        vectors.append(make_vector(f"certificate_block_{cert.height}", text, inputs, expected))
    return make_document(
        "Commit certificates: each signature covers the precommit sign-bytes of (height, round, "
        "block_hash); signatures sorted by validator index in validator_sets.json's set. sha256 "
        "of the encoding is what the RPC reports as last_commit_hash.",
        vectors,
        layouts={"encoding": CERTIFICATE_LAYOUT, "encoding.signatures[]": COMMIT_SIG_LAYOUT},
    )


def evidence_document() -> Json:
    chain = build_chain()
    evidence = chain.evidence
    vset = chain.validator_set
    signer = validator_name(vset, evidence.vote_a.validator_index)
    encoding = codec.encode(evidence.to_wire())
    inputs = {
        "chain_id": CHAIN_ID,
        "signer": key_json(signer),
        "vote_a": to_json(evidence.vote_a),
        "vote_b": to_json(evidence.vote_b),
    }
    expected = {
        "encoding": encoding.hex(),
        "hash": evidence.compute_hash().hex(),
        "message": encode_message(evidence).hex(),
        "evidence_hash_of_list": compute_evidence_hash((evidence,)).hex(),
    }
    text = "BANKC's validator prevoted block 2 and another hash at (2, 0); included in block 3"
    return make_document(
        "Duplicate-vote evidence: vote_a is the vote whose vote encoding sorts first (bytewise). "
        "hash = sha256(encoding); a block's evidence_hash is the Merkle root of the encodings.",
        [make_vector("duplicate_prevote", text, inputs, expected)],
        enums={**enum_table(VoteType, MessageTag), "EvidenceKind": {"DUPLICATE_VOTE": 1}},
        layouts={"encoding": EVIDENCE_LAYOUT, "encoding.vote_a": VOTE_LAYOUT},
    )


# ---------------------------------------------------------------------------------------------
# Merkle trees


def _merkle_vector(name: str, text: str, leaves: list[bytes]) -> Json:
    proofs = []
    for index in range(len(leaves)):
        proof = crypto.merkle_proof(leaves, index)
        proofs.append(
            {
                "index": proof.index,
                "total": proof.total,
                "aunts": [aunt.hex() for aunt in proof.aunts],
                "encoding": codec.encode(proof.to_wire()).hex(),
            }
        )
    expected = {
        "leaf_hashes": [crypto.merkle_leaf_hash(leaf).hex() for leaf in leaves],
        "root": crypto.merkle_root(leaves).hex(),
        "proofs": proofs,
    }
    return make_vector(name, text, {"leaves": [leaf.hex() for leaf in leaves]}, expected)


def merkle_document() -> Json:
    chain_txs = [tx for item in build_chain().blocks for tx in item.block.txs]
    vectors = [
        _merkle_vector("empty", "no leaves: sha256 of the empty string", []),
        _merkle_vector("one_leaf", "a single leaf: its leaf hash", [b"depochain"]),
        _merkle_vector("three_leaves", "unbalanced: leaf 3 is carried up", [b"a", b"b", b"c"]),
        _merkle_vector("seven_chain_txs", "the first seven raw txs of the vector chain",
                       chain_txs[:7]),
    ]  # fmt: skip
    return make_document(
        "RFC 6962 Merkle trees: leaf hash sha256(0x00 || leaf), node hash sha256(0x01 || left || "
        "right), split at the largest power of two below n. Proof aunts are ordered leaf to root.",
        vectors,
        layouts={"proofs[].encoding": ["index", "total", "aunts"]},
    )
