"""The transaction type numbers (part of every transaction's wire format: only ever appended).

Its own module so body modules (``bodies.py``, ``policy_bodies.py``) share it without importing
each other.
"""

from __future__ import annotations

import enum


class TxType(enum.IntEnum):
    PARTICIPANT_UPSERT = 1
    INSTRUMENT_REGISTER = 2
    ACCOUNT_OPEN = 3
    ACCOUNT_UPDATE = 4
    MINT = 5
    REDEEM = 6
    TRANSFER = 7
    FREEZE = 8
    GOVERNANCE_PARAMS_SET = 9
    PARTICIPANT_CHANGE_CANCEL = 10
    PAUSE = 11
    HOLD_CREATE = 12
    HOLD_EXECUTE = 13
    HOLD_CANCEL = 14
    FORCED_TRANSFER = 15
    POLICY_SET = 16
    HOLD_APPROVE = 17
    ACCOUNT_RECOVERY_CANCEL = 18
