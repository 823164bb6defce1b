"""The escalation log as evidence: hash chains, tampering found, append-only, concurrent writers."""

from __future__ import annotations

import itertools
import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, literal, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session
from typer.testing import CliRunner

from arrears.cli import app as cli
from arrears.db import alembic_config, make_engine, upgrade
from arrears.settings import normalise_database_url
from arrears.wiring import App
from cases import casework, contacts, eventlog, logcheck, logseal
from cases.access import Actor
from cases.models import CaseEvent, CaseLogHead
from tests.conftest import DEFAULT_PG
from tests.factories import add_open_cases, add_user, tamper_log

DAY = date(2026, 11, 2)
runner = CliRunner()


def _world(store: App) -> tuple[list[int], Actor]:
    """Three cases: A with five notes (ORM writes), B with three, C with two bulk-written events."""
    with store.session() as session:
        ids = add_open_cases(session, [("和平区", 120_000, date(2026, 9, 1))] * 3)
        officer = add_user(session, "li.wei", "officer", ["和平区"])
        session.commit()
    a, b, c = ids
    for case_id, count in ((a, 5), (b, 3)):
        for n in range(count):
            with store.session() as session:
                contacts.add_note(
                    session=session, actor=officer, case_id=case_id, today=DAY, note=f"note {n + 1}"
                )
                session.commit()
    with store.session() as session:
        casework.add_events(
            session,
            [
                casework.event_row(
                    case_id=c, kind="note", message=f"bulk {n}", on_date=DAY, actor="system:test"
                )
                for n in (1, 2)
            ],
        )
        session.commit()
    return ids, officer


def _verify(store: App, heads: Path | None = None) -> logcheck.Report:
    with store.session() as session:
        return logcheck.verify(session, heads_dir=heads)


def _event_id(store: App, case_id: int, seq: int) -> int:
    with store.session() as session:
        return session.execute(
            select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
        ).scalar_one()


def test_every_write_path_chains_its_events(store: App) -> None:
    (a, b, c), _ = _world(store)
    with store.session() as session:
        events = session.execute(select(CaseEvent).order_by(CaseEvent.id)).scalars().all()
        heads = {h.case_id: h for h in session.execute(select(CaseLogHead)).scalars()}
    by_case: dict[int, list[CaseEvent]] = {}
    for e in events:
        by_case.setdefault(e.case_id, []).append(e)
    assert {k: len(v) for k, v in by_case.items()} == {a: 5, b: 3, c: 2}
    for case_id, chain in by_case.items():
        assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
        assert chain[0].prev_hash == eventlog.GENESIS
        for before, after in itertools.pairwise(chain):
            assert after.prev_hash == before.hash
        assert (heads[case_id].seq, heads[case_id].hash) == (chain[-1].seq, chain[-1].hash)
    report = _verify(store)
    assert report.ok and (report.chains, report.events) == (3, 10)


def test_an_edited_field_is_named_with_case_and_position(store: App) -> None:
    (a, _b, _c), _ = _world(store)
    tamper_log(
        store,
        "UPDATE case_event SET message = 'nothing was said' WHERE case_id = :a AND seq = 3",
        a=a,
    )
    report = _verify(store)
    assert not report.ok
    first = report.first
    assert first is not None
    assert (first.case_id, first.position, first.problem) == (a, 3, "edited")
    assert first.event_id == _event_id(store, a, 3)
    assert len(report.breaks) == 1  # the other chains are intact


def test_a_changed_date_in_the_data_is_found_too(store: App) -> None:
    (_a, b, _c), _ = _world(store)
    tamper_log(
        store, "UPDATE case_event SET on_date = '2026-10-30' WHERE case_id = :b AND seq = 1", b=b
    )
    first = _verify(store).first
    assert first is not None and (first.case_id, first.position, first.problem) == (b, 1, "edited")


def test_a_deleted_row_is_named(store: App) -> None:
    (a, _b, _c), _ = _world(store)
    tamper_log(store, "DELETE FROM case_event WHERE case_id = :a AND seq = 2", a=a)
    first = _verify(store).first
    assert first is not None
    assert (first.case_id, first.position, first.problem) == (a, 2, "missing")
    assert "position 2 is missing" in first.sentence()


def test_a_deleted_last_row_is_found_from_the_chains_head(store: App) -> None:
    (_a, b, _c), _ = _world(store)
    tamper_log(store, "DELETE FROM case_event WHERE case_id = :b AND seq = 3", b=b)
    first = _verify(store).first
    assert first is not None
    assert (first.case_id, first.position, first.problem) == (b, 3, "truncated")


def test_swapped_rows_are_named_as_reordered(store: App) -> None:
    (a, _b, _c), _ = _world(store)
    # Swap what rows 2 and 4 say, keeping their places in the table.
    cols = "at, message, data"
    tamper_log(
        store,
        f"CREATE TEMPORARY TABLE swap AS SELECT seq, {cols} FROM case_event "
        "WHERE case_id = :a AND seq IN (2, 4)",
        "UPDATE case_event SET at = (SELECT s.at FROM swap s WHERE s.seq = 6 - case_event.seq), "
        "message = (SELECT s.message FROM swap s WHERE s.seq = 6 - case_event.seq), "
        "data = (SELECT s.data FROM swap s WHERE s.seq = 6 - case_event.seq) "
        "WHERE case_id = :a AND seq IN (2, 4)",
        a=a,
    )
    first = _verify(store).first
    assert first is not None
    assert (first.case_id, first.position, first.problem) == (a, 2, "moved")
    assert "position 4" in first.sentence()


def test_swapped_positions_are_named_as_reordered(store: App) -> None:
    (a, _b, _c), _ = _world(store)
    # Put event 3 at position 4 and event 4 at position 3, hashes and all.
    tamper_log(
        store,
        "UPDATE case_event SET seq = -1 WHERE case_id = :a AND seq = 3",
        "UPDATE case_event SET seq = 3 WHERE case_id = :a AND seq = 4",
        "UPDATE case_event SET seq = 4 WHERE case_id = :a AND seq = -1",
        a=a,
    )
    first = _verify(store).first
    assert first is not None
    assert (first.case_id, first.position, first.problem) == (a, 3, "moved")


def test_the_database_refuses_update_and_delete_on_the_log(store: App) -> None:
    (a, _b, _c), _ = _world(store)
    for statement in (
        "UPDATE case_event SET message = 'x' WHERE case_id = :a",
        "DELETE FROM case_event WHERE case_id = :a",
    ):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as c:
            c.execute(text(statement), {"a": a})
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as c:
            c.execute(text("TRUNCATE case_event CASCADE"))
    assert _verify(store).ok


def test_an_old_closed_case_may_be_removed_only_by_the_purge(store: App) -> None:
    (a, _b, _c), _ = _world(store)
    with store.engine.begin() as c:
        c.execute(text("UPDATE \"case\" SET closed_on = '2014-03-31' WHERE id = :a"), {"a": a})
    if store.engine.dialect.name == "postgresql":
        # Old enough, but not the purge: still refused.
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as c:
            c.execute(text("DELETE FROM case_event WHERE case_id = :a"), {"a": a})
        with store.engine.begin() as c:
            c.execute(text("SET LOCAL arrears.retention_purge = 'on'"))
            c.execute(text("DELETE FROM case_event WHERE case_id = :a"), {"a": a})
    else:
        with store.engine.begin() as c:
            c.execute(text("DELETE FROM case_event WHERE case_id = :a"), {"a": a})
    with store.engine.connect() as c:
        left = c.execute(text("SELECT count(*) FROM case_event WHERE case_id = :a"), {"a": a})
        assert left.scalar_one() == 0


def test_twenty_concurrent_writers_leave_one_valid_chain(store: App) -> None:
    (a, b, _c), officer = _world(store)
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def writer(n: int) -> None:
        try:
            start.wait()
            for k in range(5):
                with store.session() as session:
                    contacts.add_note(
                        session=session,
                        actor=officer,
                        case_id=a if n % 2 else b,
                        today=DAY,
                        note=f"writer {n} note {k}",
                    )
                    session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = _verify(store)
    assert report.ok, report.as_dict()
    assert report.events == 10 + 100
    with store.session() as session:
        seqs = session.execute(
            select(CaseEvent.seq).where(CaseEvent.case_id == a).order_by(CaseEvent.seq)
        ).scalars()
        assert list(seqs) == list(range(1, 56))


AWKWARD_EVENTS = [
    {"message": 'quotes " and \\ backslashes', "data": {"b": [1, 2.5, None], "a": "é"}},
    {"message": "lines\nand\ttabs, \u0001 a control character", "data": {}},
    {"message": "王芳 🙂 and U+2028 \u2028 too", "data": {"nested": {"z": True, "y": "\u00e9"}}},
    {"message": "no step", "step": "order_to_pay", "policy_version": "tianjin-2026.1"},
]


def test_the_server_chains_an_event_as_the_code_does(store: App) -> None:
    """``chained_insert`` has PostgreSQL work out the hash: byte for byte the code's, whatever
    the text, on a chain that exists and on one it starts."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the server computes the hash on PostgreSQL only")
    (a, _b, c), _ = _world(store)
    (fresh,) = _fresh_cases(store, 1)
    for case_id in (a, fresh, c):
        for fields in AWKWARD_EVENTS:
            row = casework.event_row(
                case_id=0, kind="note", on_date=DAY, actor='王 "li"', **_defaults(fields)
            )
            ids = select(literal(case_id).label("id")).cte("ids")
            heads = eventlog.lock_head_of(ids).cte("heads")
            with store.session() as session:
                seq = session.execute(
                    eventlog.chained_insert(heads), eventlog.link_params(row)
                ).one()[1]
                stored = session.execute(
                    select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
                ).scalar_one()
                expected = eventlog.link(stored.prev_hash, stored.model_dump())
            assert stored.hash == expected
    report = _verify(store)
    assert report.ok, report.as_dict()
    assert report.events == 10 + 3 * len(AWKWARD_EVENTS)


def _defaults(fields: dict[str, object]) -> dict[str, object]:
    return {"message": "", "data": {}, "step": None, "policy_version": None} | fields


def _fresh_cases(store: App, n: int) -> list[int]:
    with store.session() as session:
        return add_open_cases(session, [("和平区", 1_000, date(2026, 9, 1))] * n)


def test_exported_heads_catch_a_chain_rewritten_whole(store: App, tmp_path: Path) -> None:
    (a, _b, _c), _ = _world(store)
    folder = tmp_path / "heads"
    with store.session() as session:
        sealed = logseal.seal_and_commit(session, day=DAY, folder=folder)
    assert (sealed.chains, sealed.events) == (3, 10)
    assert _verify(store, folder).ok
    # Rewrite event 4 of case A and recompute every hash after it: the chain alone looks intact.
    with store.session() as session:
        chain = (
            session.execute(select(CaseEvent).where(CaseEvent.case_id == a).order_by(CaseEvent.seq))
            .scalars()
            .all()
        )
        rows = [{c: getattr(e, c) for _n, c in eventlog.FIELDS} | {"id": e.id} for e in chain]
    rows[3]["message"] = "the employer agreed to nothing"
    prev = chain[2].hash
    statements, params = [], {}
    for i, row in enumerate(rows[3:], start=3):
        value = eventlog.link(prev, row)
        statements.append(
            f"UPDATE case_event SET message = :m{i}, prev_hash = :p{i}, hash = :h{i} "
            f"WHERE id = :id{i}"
        )
        params |= {f"m{i}": row["message"], f"p{i}": prev, f"h{i}": value, f"id{i}": row["id"]}
        prev = value
    statements.append("UPDATE case_log_head SET hash = :head WHERE case_id = :a")
    tamper_log(store, *statements, head=prev, a=a, **params)
    assert _verify(store).ok  # without the kept heads, nothing shows
    first = _verify(store, folder).first
    assert first is not None
    assert (first.case_id, first.position, first.problem) == (a, 5, "exported")


def test_a_changed_heads_file_is_reported(store: App, tmp_path: Path) -> None:
    _world(store)
    folder = tmp_path / "heads"
    with store.session() as session:
        path = logseal.seal_and_commit(session, day=DAY, folder=folder).path
    text_ = path.read_text(encoding="ascii").replace(",5,", ",4,", 1)
    path.write_text(text_, encoding="ascii")
    report = _verify(store, folder)
    assert not report.ok and "digest does not match" in report.file_problems[0]


def test_seals_cover_only_what_grew_and_chain_to_each_other(store: App, tmp_path: Path) -> None:
    (a, _b, _c), officer = _world(store)
    folder = tmp_path / "heads"
    with store.session() as session:
        first = logseal.seal_and_commit(session, day=DAY, folder=folder)
    with store.session() as session:
        contacts.add_note(session=session, actor=officer, case_id=a, today=DAY, note="later")
        session.commit()
    with store.session() as session:
        second = logseal.seal_and_commit(session, day=date(2026, 11, 3), folder=folder)
    files = list(logseal.read_folder(folder))
    assert [f.seal for f in files] == [1, 2]
    assert files[1].prev == first.digest and files[1].digest == second.digest
    assert [(x.case_id, x.from_seq, x.to_seq) for x in files[1].links] == [(a, 6, 6)]
    assert _verify(store, folder).ok


def test_cli_verify_names_the_first_broken_link(store: App, db_env: dict[str, str]) -> None:
    (a, _b, _c), _ = _world(store)
    ok = runner.invoke(cli, ["log", "verify"], env=db_env, catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert "checked 3 chains, 10 events" in ok.stdout and "the log is intact" in ok.stdout
    sealed = runner.invoke(cli, ["log", "seal", "--as-of", "2026-11-02"], env=db_env)
    assert sealed.exit_code == 0, sealed.output
    assert "3 chains, 10 events" in sealed.stdout
    tamper_log(
        store, "UPDATE case_event SET actor = 'someone else' WHERE case_id = :a AND seq = 4", a=a
    )
    broken = runner.invoke(cli, ["log", "verify"], env=db_env, catch_exceptions=False)
    assert broken.exit_code == 1
    assert f"first broken link: case {a}, position 4" in broken.stdout


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    admin_url = normalise_database_url(os.environ.get("ARREARS_TEST_POSTGRES_URL", DEFAULT_PG))
    name = f"arrears_old_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_events_written_before_the_chain_are_chained_by_the_upgrade(empty_url: str) -> None:
    engine = make_engine(empty_url)
    config = alembic_config(empty_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "f2a8c4e6b1d9")  # the schema before the chain
    with Session(engine) as session:
        first, second = add_open_cases(session, [("和平区", 50_000, date(2026, 9, 1))] * 2)
        for case_id, n in ((first, 1), (second, 1), (first, 2), (first, 3)):
            session.execute(
                text(
                    "INSERT INTO case_event (case_id, at, on_date, kind, actor, message, data) "
                    "VALUES (:c, :at, :on, 'note', 'li.wei', :m, :d)"
                ),
                {
                    "c": case_id,
                    "at": datetime(2026, 10, 1, 8, n, tzinfo=UTC),
                    "on": date(2026, 10, 1),
                    "m": f"note {n} on case {case_id}",
                    "d": json.dumps({"n": n, "words": ["电话", "无人接听"]}, ensure_ascii=False),
                },
            )
        session.commit()
    upgrade(engine)
    with Session(engine) as session:
        report = logcheck.verify(session)
        chain = session.execute(
            select(CaseEvent.message).where(CaseEvent.case_id == first).order_by(CaseEvent.seq)
        ).scalars()
        assert list(chain) == [f"note {n} on case {first}" for n in (1, 2, 3)]
    engine.dispose()
    assert report.ok, report.as_dict()
    assert (report.chains, report.events) == (2, 4)
