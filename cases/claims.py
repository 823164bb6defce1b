"""Who holds a case: "take next case" from the queue, and giving a case back.

Taking a case is one conditional ``UPDATE`` that picks and claims the top unclaimed case at once,
so two takers never get the same case:

* PostgreSQL: the pick locks the case row ``FOR UPDATE … SKIP LOCKED``, so concurrent takers
  pass over a row another taker is claiming instead of queueing behind it, and a row claimed and
  committed meanwhile fails the re-checked ``officer_id IS NULL`` and is passed over too;
* SQLite has no row locks (``SKIP LOCKED`` compiles away). There, the same single statement is
  safe because SQLite takes the database's one write lock before an ``UPDATE`` reads anything,
  and holds it until the transaction ends: no other connection or process can claim between the
  pick and the write, and the pick reads the last committed state (the driver begins a
  transaction only before a write, so no older read snapshot is open). Takers queue on the write
  lock (``busy_timeout``). A ``BEGIN IMMEDIATE`` would do the same but needs the connection's
  transaction not yet begun, which a session handed in cannot promise.

On both, the outer ``WHERE officer_id IS NULL`` and the returned id are the final word: nothing is
reported as taken that this statement did not change.

The claim's ``case_claimed`` event is written with it. On PostgreSQL the same statement locks the
case's log chain head and inserts the event chained onto it, the server working out its hash
(``cases.eventlog.chained_insert``): one statement, atomic on its own, so the web app runs it in
autocommit on the event loop (:func:`take_next_direct`, ``cases.direct``) in a single round
trip. On SQLite the event follows the claim under the write lock the claim took.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Executable, Select, Update, bindparam, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Alias
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Session

from cases.access import Actor, NotAllowed, Role, case_district
from cases.bulk import among, table
from cases.casework import add_events, event_row
from cases.direct import Direct, DirectStore
from cases.eventlog import ChainError, chained_insert, link_params, lock_head_of
from cases.messages import N_
from cases.models import Case, User, utcnow
from cases.refusals import ActionRefused

UNCLAIMED_INDEX = "ix_case_unclaimed_queue"  # cases.models: open, unclaimed, by (priority, id)
# ... by (district, priority, id): one district's top row, read directly.
DISTRICT_INDEX = "ix_case_unclaimed_district"


def served(actor: Actor) -> list[str] | None:
    """The districts whose cases ``actor`` sees; None: every district."""
    return None if actor.every_district else sorted(actor.districts)


class _IndexedBy(Alias):
    """A table read through one named index on SQLite (``INDEXED BY``); a plain alias elsewhere.

    Nothing runs ANALYZE on SQLite, and without statistics its planner guesses that
    ``officer_id IS NULL`` matches 10 rows of ``ix_case_officer_id``, reads every unclaimed case
    of the districts through it and sorts them, under the write lock when taking a case (50
    claims/s at 100,000 cases). The partial queue index hands them over in order instead.
    PostgreSQL picks that index from its statistics.
    """

    # The index name is part of the cache key, so each statement reading through it is compiled
    # once per index, not on every call.
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy declares it an instance variable)
        *Alias._traverse_internals,
        ("index_name", InternalTraversal.dp_string),
    ]
    inherit_cache = True
    index_name = ""


@compiles(_IndexedBy)
def _plain_alias(element: _IndexedBy, compiler: Any, **kw: Any) -> str:
    return str(compiler.visit_alias(element, **kw))


@compiles(_IndexedBy, "sqlite")
def _indexed_alias(element: _IndexedBy, compiler: Any, **kw: Any) -> str:
    text = str(compiler.visit_alias(element, **kw))
    return f"{text} INDEXED BY {element.index_name}" if kw.get("asfrom") else text


@cache
def through_queue_index(index: str = UNCLAIMED_INDEX) -> _IndexedBy:
    """The case table as "take next" and the queue's unclaimed part read it (built once per
    index: an alias works out its columns the first time they are asked for)."""
    alias = _IndexedBy._construct(table(Case), name="queue")
    alias.index_name = index
    return alias


def _pick(queue: _IndexedBy) -> Select[tuple[int]]:
    """The top unclaimed open case through ``queue``, its row locked (or passed over when another
    taker holds it)."""
    return (
        select(queue.c.id)
        .where(queue.c.officer_id.is_(None), queue.c.closed_on.is_(None))
        .order_by(queue.c.priority.desc(), queue.c.id.desc())
        .limit(1)
        .with_for_update(of=queue, skip_locked=True)
    )


def _claiming(pick: Select[tuple[int]]) -> Update:
    """Claim the case ``pick`` finds for ``:taker`` at ``:claimed``, if still unclaimed."""
    c = table(Case)
    return (
        update(c)
        .where(c.c.id == pick.scalar_subquery(), c.c.officer_id.is_(None))
        .values(
            officer_id=bindparam("taker"),
            claimed_at=bindparam("claimed"),
            updated_at=bindparam("claimed"),
        )
        .returning(c.c.id)
    )


def _claiming_and_logging(claim: Update) -> Select[tuple[int, int]]:
    """PostgreSQL: ``claim``, the lock of the claimed case's chain head and the claim's event,
    chained onto it, in one statement: one round trip. Returns the case's id and its event's
    position. The event's fields are bound as ``cases.eventlog.link_params`` gives them."""
    claimed = claim.cte("claimed")
    head = lock_head_of(claimed).cte("head")
    logged = chained_insert(head).cte("logged")
    return select(claimed.c.id, logged.c.seq).select_from(
        claimed.outerjoin(logged, logged.c.case_id == claimed.c.id)
    )


@cache
def _claim_statement(index: str, *, among_districts: str, logging: bool) -> Executable:
    """Built once: the claim of the top case through ``index``, of the city (``among_districts``
    ``"city"``), of ``:in_district`` (``"one"``, through that district's own index, top row
    first: "= ANY" would lose the index's order) or of any of ``:in_districts`` (``"several"``:
    the city's queue in order, skipping other districts' rows); with ``logging``, the claim's
    event written in the same statement (PostgreSQL)."""
    queue = through_queue_index(index)
    pick = _pick(queue)
    if among_districts == "one":
        pick = pick.where(queue.c.district == bindparam("in_district"))
    elif among_districts == "several":
        pick = pick.where(among(queue.c.district, key="in_districts"))
    claim = _claiming(pick)
    return _claiming_and_logging(claim) if logging else claim


@dataclass(frozen=True)
class _Claim:
    """What one "take next" runs: the statement, its parameters and the claim's event."""

    statement: Executable
    params: dict[str, Any]
    event: dict[str, Any]


def _claim(
    actor: Actor, today: date, districts: list[str] | None, *, logging: bool
) -> _Claim | None:
    if districts is not None:
        foreign = sorted(d for d in districts if not actor.serves(d))
        if foreign:
            raise NotAllowed(f"{actor.username} does not serve {', '.join(foreign)}")
        wanted: list[str] | None = sorted(set(districts))
    else:
        wanted = served(actor)
    if wanted == []:
        return None
    claimed = utcnow()
    event = event_row(
        case_id=0,  # the statement's to learn, or the caller's once it knows it
        kind="case_claimed",
        message="took the case from the queue",
        on_date=today,
        actor=actor.username,
        data={"officer_id": actor.user_id},
    )
    event["at"] = claimed
    params: dict[str, Any] = {"taker": actor.user_id, "claimed": claimed}
    if logging:
        params |= link_params(event)
    if wanted is None:
        statement = _claim_statement(UNCLAIMED_INDEX, among_districts="city", logging=logging)
    elif len(wanted) == 1:
        statement = _claim_statement(DISTRICT_INDEX, among_districts="one", logging=logging)
        params["in_district"] = wanted[0]
    else:
        statement = _claim_statement(UNCLAIMED_INDEX, among_districts="several", logging=logging)
        params["in_districts"] = wanted
    return _Claim(statement, params, event)


def take_next(
    session: Session,
    *,
    actor: Actor,
    today: date,
    districts: list[str] | None = None,
) -> int | None:
    """Claim the highest-priority unclaimed open case in ``districts`` (default: every district
    ``actor`` serves) for ``actor``; its id, or None when there is none left. ``NotAllowed``
    when asked for a district the actor does not serve.

    On PostgreSQL the claim and its event are one statement (see also :func:`take_next_direct`);
    on SQLite the event follows the claim, under the write lock the claim took.
    """
    connection = session.connection()
    logging = connection.dialect.name == "postgresql"
    claim = _claim(actor, today, districts, logging=logging)
    if claim is None:
        return None
    row = connection.execute(claim.statement, claim.params).one_or_none()
    if row is None:
        return None
    case_id: int = row[0]
    if logging:
        _check_logged(case_id, row[1])
    else:
        claim.event["case_id"] = case_id
        add_events(session, [claim.event])
    return case_id


async def take_next_direct(
    store: DirectStore,
    *,
    actor: Actor,
    today: date,
    districts: list[str] | None = None,
) -> int | None:
    """:func:`take_next` on PostgreSQL through ``store`` (``cases.direct``), on the event loop:
    the claim and its event are one statement, a transaction of its own, in one round trip."""
    claim = _claim(actor, today, districts, logging=True)
    if claim is None:
        return None
    row = await store.one(_direct(claim.statement), claim.params)
    if row is None:
        return None
    case_id: int = row[0]
    _check_logged(case_id, row[1])
    return case_id


@cache
def _direct(statement: Executable) -> Direct:
    return Direct(statement)


def _check_logged(case_id: int, seq: int | None) -> None:
    if seq is None:
        raise ChainError(f"case {case_id} was claimed but its event was not written")


def release(session: Session, *, actor: Actor, case_id: int, today: date) -> None:
    """Give a case back to the queue: its officer, a supervisor of its district, or an admin.

    ``CaseNotFound`` for a case ``actor`` may not see; ``NotAllowed`` for anyone else's case;
    ``ValueError`` when the case has no officer (or changed hands meanwhile).
    """
    case_district(session, actor, case_id)
    c, u = table(Case), table(User)
    connection = session.connection()
    holder, holder_name = connection.execute(
        select(c.c.officer_id, u.c.username)
        .select_from(c.outerjoin(u, u.c.id == c.c.officer_id))
        .where(c.c.id == case_id)
    ).one()
    if holder is None:
        raise ActionRefused(
            "case", key=N_("case {case} has no officer: it is in the queue already"), case=case_id
        )
    if holder != actor.user_id and actor.role is Role.OFFICER:
        raise NotAllowed(
            f"case {case_id} is {holder_name}'s: only its officer, a supervisor of its district "
            "or an admin may give it back"
        )
    # Conditional on the holder read above, so a reassignment in between is not undone.
    result: Any = connection.execute(
        update(c)
        .where(c.c.id == case_id, c.c.officer_id == holder)
        .values(officer_id=None, claimed_at=None, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise ActionRefused(
            "case", key=N_("case {case} changed hands meanwhile: look again"), case=case_id
        )
    own = holder == actor.user_id
    add_events(
        session,
        [
            event_row(
                case_id=case_id,
                kind="case_released",
                message="gave the case back to the queue"
                + ("" if own else f" (it was {holder_name}'s)"),
                on_date=today,
                actor=actor.username,
                data={"officer_id": holder},
            )
        ],
    )
