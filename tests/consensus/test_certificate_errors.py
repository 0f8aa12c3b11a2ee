"""Each way a commit certificate fails names what is wrong (light clients and auditors show it).

Complements test_certificate.py, which checks the error types.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.certificate import CertificateError, make_certificate, verify_certificate
from consensus.messages import CommitCertificate, CommitSig
from consensus.types import ValidatorIndex
from consensus.vote_set import VoteSet
from tests.consensus.replica_fixtures import CHAIN, VSET, bad_signature
from tests.consensus.test_certificate import BLOCK, cert_of


def failure(cert: CommitCertificate, block: bytes = BLOCK, height: int = 1) -> str:
    with pytest.raises(CertificateError) as error:
        verify_certificate(cert, block, height, VSET, CHAIN)
    return str(error.value)


def test_certificate_errors_name_the_problem() -> None:
    cert = cert_of()
    sigs = cert.signatures
    assert failure(cert, height=2) == "certificate is for height 1, not 2"
    assert failure(cert, block=b"\x0c" * 32) == "certificate is for another block"
    extra = CommitSig(ValidatorIndex(7), sigs[0].signature)
    assert failure(replace(cert, signatures=(*sigs, extra))) == ("validator index 7 not in the set")
    assert failure(replace(cert, signatures=(sigs[1], sigs[0], sigs[2]))) == (
        "validator 0 repeated or out of order"
    )
    assert failure(replace(cert, signatures=sigs[:2])) == "signers hold 20 of 40"
    broken = CommitSig(sigs[1].validator_index, bad_signature(sigs[1].signature))
    assert failure(replace(cert, signatures=(sigs[0], broken, sigs[2]))) == (
        "bad signature of validator 1"
    )


def test_a_certificate_is_only_made_from_a_precommit_quorum() -> None:
    with pytest.raises(ValueError, match=r"^no precommit quorum for this block$"):
        make_certificate(VoteSet(cert_of().height, cert_of().round, 1, VSET), BLOCK)  # type: ignore[arg-type]
