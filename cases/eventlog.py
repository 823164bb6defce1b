"""The escalation log as evidence: each case's events form a hash chain.

Every case has one chain. An event's ``seq`` is its position in its case's chain (1, 2, 3, …), its
``prev_hash`` the hash of the event before it (:data:`GENESIS` for the first) and its ``hash`` the
SHA-256 of a version tag, ``prev_hash`` and :func:`canonical`, a fixed encoding of the event's
fields. Editing any field, deleting an event or moving one breaks the chain from that point, and
:mod:`cases.logcheck` finds the first broken link.

Writers of a case's chain are serialised on the case's row in ``case_log_head`` (its last ``seq``
and ``hash``): on PostgreSQL the row is locked (an upsert) until the writer's transaction ends;
SQLite has one write lock for the whole database, taken here by the first write of the flush. A
trigger on ``case_event`` moves the head as each event is inserted. The unique
``(case_id, seq)`` index is the last word: two writers can never both add position N.

Events are chained wherever they are written: ORM flushes (a ``before_flush`` hook, installed on
import), :func:`chain_rows` for bulk inserts (``cases.casework.add_events``), and on PostgreSQL
:func:`chained_insert`, an insert whose hash the server works out over the same bytes, for a
statement that learns the case and position as it writes (taking a case, ``cases.claims``).

The encoding is part of the evidence and must never change meaning: a future change adds a new
version tag and keeps this one verifiable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    Connection,
    Text,
    bindparam,
    cast,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction

from cases.bulk import table
from cases.models import CaseEvent, CaseLogHead

GENESIS = "0" * 64
VERSION = b"arrears-case-event/1"
# The fields an event's hash covers, in the encoding's own names (stable across code versions).
FIELDS = (
    ("case", "case_id"),
    ("seq", "seq"),
    ("at", "at"),
    ("on", "on_date"),
    ("kind", "kind"),
    ("actor", "actor"),
    ("message", "message"),
    ("step", "step"),
    ("policy", "policy_version"),
    ("data", "data"),
)


class ChainError(RuntimeError):
    """An event that cannot be chained as given (a programming error, not bad user input)."""


def _instant(value: datetime | str) -> str:
    if isinstance(value, str):  # read back from an export
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ChainError(f"event time {value!r} has no time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(value: date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _encoded(value: Any) -> str:
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def _document(fields: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name, column in FIELDS:
        value = fields[column]
        if column == "at":
            value = _instant(value)
        elif column == "on_date":
            value = _day(value)
        doc[name] = value
    return doc


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The event's fields (column names as keys) as the bytes its hash covers.

    JSON with sorted keys, no spaces, UTF-8 text kept as is; the time in UTC to the microsecond
    with a ``Z``; the date as ``YYYY-MM-DD``; ``data`` as stored (JSON values only).
    """
    return _encoded(_document(fields)).encode("utf-8")


def canonical_around(fields: Mapping[str, Any], holes: Sequence[str]) -> list[str]:
    """:func:`canonical`'s text cut around the values of the fields ``holes`` (column names,
    integers only), for a statement that learns them as it writes: the text is ``parts[0]``,
    the first hole's value, ``parts[1]``, …, ``parts[-1]``, the holes in the document's order
    (its keys sorted: the case before the seq). The fields left open may hold any value here."""
    doc = _document({column: fields.get(column) for _name, column in FIELDS})
    # The encoding of a JSON object with sorted keys, written out: "{", then each key and its
    # value joined by ",", then "}" (the same bytes as one json.dumps of the whole document).
    open_names = {name for name, column in FIELDS if column in holes}
    if len(open_names) != len(holes):
        raise ChainError(f"not fields of an event's hash: {sorted(holes)}")
    parts, text = [], "{"
    for n, name in enumerate(sorted(doc)):
        text += ("," if n else "") + _encoded(name) + ":"
        if name in open_names:
            parts.append(text)
            text = ""
        else:
            text += _encoded(doc[name])
    parts.append(text + "}")
    return parts


def link(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of an event whose predecessor's hash is ``prev_hash``."""
    digest = hashlib.sha256(VERSION)
    digest.update(b"\n")
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical(fields))
    return digest.hexdigest()


def plain_json(data: Any) -> Any:
    """``data`` as it will read back from the JSON column (tuples become lists, keys strings)."""
    return json.loads(json.dumps(data, ensure_ascii=False, allow_nan=False))


_LEARNT = frozenset({"case_id", "seq"})  # what chained_insert's statement learns as it writes


def link_params(row: Mapping[str, Any]) -> dict[str, Any]:
    """The bound values of :func:`chained_insert` for the event ``row`` (an ``event_row`` whose
    case and position the statement learns as it writes)."""
    fields = _columns(row)
    before, between, after = canonical_around(fields, ("case_id", "seq"))
    values = {
        f"event_{column}": fields[column] for _name, column in FIELDS if column not in _LEARNT
    }
    return values | {"link_before": before, "link_between": between, "link_after": after}


def chained_insert(heads: Any) -> Any:
    """PostgreSQL: an ``INSERT`` of one event onto each chain head of ``heads`` (a selectable of
    ``case_id``, ``seq`` and ``hash`` whose rows the statement has locked, such as
    :func:`lock_head_of`'s upsert as a CTE), returning each event's ``case_id`` and ``seq``.

    The server fills in what it learns as it writes: the case, the position after the head, the
    head's hash as ``prev_hash`` and the event's own hash, :func:`link` worked out by its own
    SHA-256 over the same bytes (the canonical text is bound in pieces around the case and the
    position, :func:`link_params`). The event's other fields are bound as ``event_<column>``.
    """
    events = table(CaseEvent)
    text_of = partial(cast, type_=Text)
    linked = (
        literal(VERSION.decode("ascii") + "\n", Text)
        + heads.c.hash
        + literal("\n", Text)
        + bindparam("link_before", type_=Text)
        + text_of(heads.c.case_id)
        + bindparam("link_between", type_=Text)
        + text_of(heads.c.seq + 1)
        + bindparam("link_after", type_=Text)
    )
    digest = func.encode(func.sha256(func.convert_to(linked, literal("UTF8", Text))), "hex")
    bound = [column for _name, column in FIELDS if column not in _LEARNT]
    columns = ["case_id", "seq", "prev_hash", "hash", *bound]
    values = [
        heads.c.case_id,
        heads.c.seq + 1,
        heads.c.hash,
        digest,
        # Named apart from the columns: SQLAlchemy takes a parameter named as a column of the
        # table written to for that column's value.
        *(bindparam(f"event_{column}", type_=events.c[column].type) for column in bound),
    ]
    return (
        insert(events)
        .from_select(columns, select(*values).select_from(heads))
        .returning(events.c.case_id, events.c.seq)
    )


def _lock_heads(connection: Connection, case_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """Each case's chain head (seq, hash), its row locked until this transaction ends.

    One statement: insert a head for a chain not started yet, else "update" the existing one to
    itself, which locks it (PostgreSQL) and returns it. On SQLite that write takes the database's
    write lock before anything is read, so the heads returned are the last committed ones. Rows
    are locked in case order, so two writers of the same chains cannot deadlock.
    """
    new = [
        {"case_id": i, "seq": 0, "hash": GENESIS, "sealed_seq": 0} for i in sorted(set(case_ids))
    ]
    statement = _lock_statement(connection.dialect.name)
    return {row.case_id: (row.seq, row.hash) for row in connection.execute(statement, new)}


def lock_head_of(case_ids: Any) -> Any:
    """PostgreSQL: an upsert locking the chain head of each case ``case_ids`` (a selectable of
    one ``id`` column, such as a data-modifying CTE) and returning it, for a statement that both
    writes the cases and locks their chains in one round trip (``cases.claims``). Its rows are
    what :func:`_lock_heads` returns."""
    heads = table(CaseLogHead)
    return (
        postgresql.insert(heads)
        .from_select(
            ["case_id", "seq", "hash", "sealed_seq"],
            select(case_ids.c.id, literal(0), literal(GENESIS), literal(0)),
        )
        .on_conflict_do_update(index_elements=[heads.c.case_id], set_={"seq": heads.c.seq})
        .returning(heads.c.case_id, heads.c.seq, heads.c.hash)
    )


@cache
def _lock_statement(dialect_name: str) -> Any:
    """``_lock_heads``'s upsert, built once per dialect."""
    heads = table(CaseLogHead)
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(heads)
        .on_conflict_do_update(index_elements=[heads.c.case_id], set_={"seq": heads.c.seq})
        .returning(heads.c.case_id, heads.c.seq, heads.c.hash, sort_by_parameter_order=True)
    )


def _chain(
    connection: Connection,
    events: Sequence[dict[str, Any]],
    locked: Mapping[int, tuple[int, str]] | None = None,
) -> None:
    """Give each event (a dict of its columns, in writing order) its seq, prev_hash and hash.
    ``locked``: the chains' heads, already locked by the caller in this transaction."""
    missing = [e for e in events if not e.get("case_id")]
    if missing:
        raise ChainError(f"a case event must name its case before it is written: {missing[0]!r}")
    if locked is None:
        heads = _lock_heads(connection, [e["case_id"] for e in events])
    else:
        heads = dict(locked)
        if not {e["case_id"] for e in events} <= heads.keys():
            raise ChainError("an event's chain head was not locked before it was chained")
    for fields in events:
        seq, prev = heads[fields["case_id"]]
        fields["seq"] = seq + 1
        fields["prev_hash"] = prev
        fields["hash"] = link(prev, fields)
        heads[fields["case_id"]] = (fields["seq"], fields["hash"])
    # The heads move with the rows: a trigger on case_event (migration c7f2a9e4d6b8).


def _columns(row: Mapping[str, Any]) -> dict[str, Any]:
    fields = {column: row.get(column) for _name, column in FIELDS if column != "seq"}
    fields["data"] = plain_json(row.get("data") or {})
    return fields


def chain_rows(
    connection: Connection,
    rows: Iterable[dict[str, Any]],
    locked: Mapping[int, tuple[int, str]] | None = None,
) -> list[dict[str, Any]]:
    """Chain event rows about to be bulk-inserted (in order); fills their chain columns in place.

    ``locked``: each chain's head (seq, hash) as the caller locked it in this transaction (see
    :func:`lock_head_of`); by default the heads are locked here."""
    rows = list(rows)
    if rows:
        fields = [_columns(row) for row in rows]
        _chain(connection, fields, locked)
        for row, f in zip(rows, fields, strict=True):
            row.update(seq=f["seq"], prev_hash=f["prev_hash"], hash=f["hash"], data=f["data"])
    return rows


def _before_flush(session: OrmSession, _context: UOWTransaction, _instances: Any) -> None:
    new = [obj for obj in session.new if isinstance(obj, CaseEvent) and obj.hash is None]
    if not new:
        return
    new.sort(key=lambda obj: inspect(obj).insert_order)
    fields = [_columns({column: getattr(obj, column) for _n, column in FIELDS}) for obj in new]
    _chain(session.connection(), fields)
    for obj, f in zip(new, fields, strict=True):
        obj.data = f["data"]
        obj.seq, obj.prev_hash, obj.hash = f["seq"], f["prev_hash"], f["hash"]


def install() -> None:
    """Chain the events of every ORM flush (once per process)."""
    if not event.contains(OrmSession, "before_flush", _before_flush):
        event.listen(OrmSession, "before_flush", _before_flush)


install()
