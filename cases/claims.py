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
"""

from __future__ import annotations

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
from cases.eventlog import ChainError, lock_head_of
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


def _claiming_and_locking(claim: Update) -> Select[tuple[int, int, str]]:
    """PostgreSQL: ``claim`` and the lock of the claimed case's chain head in one statement (one
    round trip fewer per claim), returning the case's id and its head's seq and hash."""
    claimed = claim.cte("claimed")
    head = lock_head_of(claimed).cte("head")
    return select(claimed.c.id, head.c.seq, head.c.hash).select_from(
        claimed.outerjoin(head, head.c.case_id == claimed.c.id)
    )


@cache
def _claim_statement(index: str, *, by_district: bool, locking: bool) -> Executable:
    """Built once: the claim of the city's top case, or (``by_district``) of ``:in_district``'s top
    case through its own index, top row first ("= ANY" would lose the index's order); with
    ``locking``, the claimed case's chain head locked in the same statement."""
    queue = through_queue_index(index)
    pick = _pick(queue)
    if by_district:
        pick = pick.where(queue.c.district == bindparam("in_district"))
    claim = _claiming(pick)
    return _claiming_and_locking(claim) if locking else claim


def take_next(
    session: Session, *, actor: Actor, today: date, districts: list[str] | None = None
) -> int | None:
    """Give ``actor`` the top unclaimed open case of ``districts`` (default: all they serve).

    Returns the case's id, or None when no such case is left. ``today`` is the agency's date the
    ``case_claimed`` event is filed under. Asking for a district ``actor`` does not serve raises
    ``NotAllowed``.
    """
    if districts is not None:
        foreign = sorted(d for d in districts if not actor.serves(d))
        if foreign:
            raise NotAllowed(f"{actor.username} does not serve {', '.join(foreign)}")
        wanted: list[str] | None = sorted(set(districts))
    else:
        wanted = served(actor)
    if wanted == []:
        return None
    connection = session.connection()
    # PostgreSQL locks the claimed case's chain head in the claiming statement; SQLite's write
    # lock, taken by the claim, already keeps every other writer out.
    locking = connection.dialect.name == "postgresql"
    params: dict[str, Any] = {"taker": actor.user_id, "claimed": utcnow()}
    statement: Executable
    if wanted is None:
        statement = _claim_statement(UNCLAIMED_INDEX, by_district=False, locking=locking)
    elif len(wanted) == 1:
        statement = _claim_statement(DISTRICT_INDEX, by_district=True, locking=locking)
        params["in_district"] = wanted[0]
    else:  # the city's queue in order, skipping other districts' rows
        queue = through_queue_index(UNCLAIMED_INDEX)
        claim = _claiming(_pick(queue).where(among(queue.c.district, wanted)))
        statement = _claiming_and_locking(claim) if locking else claim
    row = connection.execute(statement, params).one_or_none()
    if row is None:
        return None
    case_id: int = row[0]
    locked = None
    if locking:
        if row.seq is None:
            raise ChainError(f"case {case_id} was claimed but its chain head was not locked")
        locked = {case_id: (row.seq, row.hash)}
    add_events(
        session,
        [
            event_row(
                case_id=case_id,
                kind="case_claimed",
                message="took the case from the queue",
                on_date=today,
                actor=actor.username,
                data={"officer_id": actor.user_id},
            )
        ],
        locked,
    )
    return case_id


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
