"""PAUSE: stop value moving through the network, an instrument or a participant.

Who may pause (each authority's order is its own, and only it lifts it):

- a regulator (a role only governance gives) — any scope;
- the settlement agent — the network, and the settlement assets it issues;
- an instrument's issuer — its own instrument;

and, if governance's network policy names the authorities that may pause, only those of them
(AUTHORITY_NOT_PERMITTED), pausing and unpausing alike.

While a pause stands, MINT, REDEEM, TRANSFER, HOLD_CREATE and HOLD_EXECUTE that touch the paused
target are rejected with PAUSED (``pauses.check_not_paused``, called by those rules). Control
transactions stay allowed: PAUSE itself, FREEZE, FORCED_TRANSFER, HOLD_CANCEL (a refund to the
payer moves nothing between parties), governance and account administration.
"""

from __future__ import annotations

from consensus.ledger.auth import TxContext, require_participant
from consensus.ledger.codes import PAUSES_MAX, Code, InvalidTransaction
from consensus.ledger.events import Paused, TxEvent
from consensus.ledger.pauses import PauseOrder, PauseScope
from consensus.ledger.records import Participant, Role
from consensus.ledger.rules.policy import require_named
from consensus.ledger.rules.tokens import require_instrument
from consensus.ledger.txs import Pause


def validate_pause_authority(ctx: TxContext, authority: Participant, body: Pause) -> None:
    """Regulators pause anything; the settlement agent the network and its own assets; an
    issuer its own instrument. The target must exist."""
    view = ctx.view
    issuer: str | None = None
    if body.scope is PauseScope.INSTRUMENT:
        issuer = require_instrument(view, body.target).spec.issuer
    elif body.scope is PauseScope.PARTICIPANT and view.get_participant(body.target) is None:
        raise InvalidTransaction(Code.UNKNOWN_PARTICIPANT, f"no participant {body.target}")
    if authority.has_role(Role.REGULATOR):
        return
    if authority.has_role(Role.SETTLEMENT_AGENT) and body.scope is PauseScope.NETWORK:
        return
    if issuer == authority.participant_id:
        return
    raise InvalidTransaction(
        Code.NOT_AUTHORIZED,
        "a regulator, the settlement agent (network) or the issuer (its instrument) pauses",
    )


def apply_pause(ctx: TxContext, body: Pause) -> tuple[TxEvent, ...]:
    authority = require_participant(ctx)
    validate_pause_authority(ctx, authority, body)
    view = ctx.view
    require_named(view.get_policy_book().pausers, authority.participant_id, "pause")
    book = view.get_pause_book()
    authority_id = authority.participant_id
    order = PauseOrder(body.scope, body.target, authority_id, body.reason_ref)
    had_order = book.has_order(body.scope, body.target, authority_id)
    if not body.paused and not had_order:
        raise InvalidTransaction(
            Code.INVALID_ARGUMENT, f"{authority_id} has no pause of this target to lift"
        )
    new_book = book.with_order(order, body.paused)
    if len(new_book.orders) > PAUSES_MAX:
        raise InvalidTransaction(Code.LIMIT_EXCEEDED, f"at most {PAUSES_MAX} pauses stand")
    view.put_pause_book(new_book)
    return (Paused(int(body.scope), body.target, authority_id, body.paused, body.reason_ref),)
