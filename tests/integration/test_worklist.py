"""The officers' queue: priorities, the queue's pages, and "take next case" under concurrency."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from arrears.settings import Settings
from arrears.wiring import App
from cases.access import Actor, CaseNotFound, NotAllowed
from cases.casework import add_events, event_row
from cases.eventlog import GENESIS
from cases.logcheck import verify
from cases.models import Case, CaseEvent, CaseLogHead, Notice, OfficerTask
from cases.priorities import encode
from cases.worklist import officer_queue, refresh_priorities, release, take_next
from tests.factories import add_open_cases, add_user

TODAY = date(2026, 11, 26)
HEPING, HEDONG, HEXI = "和平区", "河东区", "河西区"
BIG = 9_000_000_00  # fen


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def add_task(store: App, case_id: int, due_on: date, status: str = "open") -> None:
    with store.session() as session:
        session.add(OfficerTask(case_id=case_id, kind="phone_call", due_on=due_on, status=status))


def add_deadline(store: App, case_id: int, deadline_on: date, status: str = "served") -> None:
    with store.session() as session:
        count = session.execute(select(func.count()).select_from(Notice)).scalar_one()
        session.add(
            Notice(
                case_id=case_id,
                business_key=f"{case_id}:order_to_pay:letter:{count}",
                step="order_to_pay",
                level=6,
                channel="letter",
                status=status,
                issued_on=days_ago(20),
                served_on=days_ago(15),
                deadline_on=deadline_on,
            )
        )


def priorities(store: App) -> dict[int, int]:
    with store.session() as session:
        return {i: p for i, p in session.execute(select(Case.id, Case.priority))}


def claimed(store: App) -> dict[int, int | None]:
    with store.session() as session:
        return {i: o for i, o in session.execute(select(Case.id, Case.officer_id))}


# --------------------------------------------------------------------------------------------
# Priorities
# --------------------------------------------------------------------------------------------


def test_a_task_due_today_outranks_a_larger_debt(store: App) -> None:
    with store.session() as session:
        small, large = add_open_cases(
            session, [(HEPING, 100_00, days_ago(3)), (HEPING, BIG, TODAY)]
        )
    add_task(store, small, TODAY)
    with store.session() as session:
        assert refresh_priorities(session, as_of=TODAY) == 2
    ranked = priorities(store)
    assert ranked[small] == encode(2, 100_00, 3)
    assert ranked[large] == encode(0, BIG, 0)
    assert ranked[small] > ranked[large]


def test_the_deadline_tier_covers_the_next_seven_days_of_unsettled_debts(store: App) -> None:
    specs = [(HEPING, 500_00, days_ago(40))] * 8
    with store.session() as session:
        ids = add_open_cases(session, specs)
    plain, in7, today, in8, lapsed, canceled, task_tomorrow, task_done = ids
    add_deadline(store, in7, TODAY + timedelta(days=7))
    add_deadline(store, today, TODAY)
    add_deadline(store, in8, TODAY + timedelta(days=8))
    add_deadline(store, lapsed, TODAY - timedelta(days=1))
    add_deadline(store, canceled, TODAY + timedelta(days=2), status="canceled")
    add_task(store, task_tomorrow, TODAY + timedelta(days=1))
    add_task(store, task_done, TODAY, status="done")
    with store.session() as session:
        refresh_priorities(session, as_of=TODAY)
    ranked = priorities(store)
    tiers = {case_id: ranked[case_id] // 10**18 for case_id in ids}
    assert tiers == {
        plain: 0,
        in7: 1,
        today: 1,
        in8: 0,
        lapsed: 0,
        canceled: 0,
        task_tomorrow: 0,
        task_done: 0,
    }
    assert ranked[in7] == encode(1, 500_00, 40)

    # A paid-up case's deadline no longer presses: "not settled" is the debt still owed.
    with store.session() as session:
        session.execute(
            text("UPDATE arrears_item SET principal_paid_fen = amount_due_fen WHERE case_id = :c"),
            {"c": in7},
        )
        refresh_priorities(session, as_of=TODAY)
    assert priorities(store)[in7] == encode(0, 0, 40)


def test_a_refresh_writes_only_what_changed_and_only_the_cases_asked_for(store: App) -> None:
    with store.session() as session:
        ids = add_open_cases(session, [(HEPING, 1000_00, days_ago(n)) for n in range(1, 6)])
        session.execute(
            text("UPDATE \"case\" SET closed_on = :d, status = 'closed_paid' WHERE id = :c"),
            {"d": TODAY, "c": ids[0]},
        )
    with store.session() as session:
        assert refresh_priorities(session, as_of=TODAY, case_ids=ids[:3]) == 2  # one is closed
    assert [priorities(store)[i] for i in ids] == [
        0,
        encode(0, 1000_00, 2),
        encode(0, 1000_00, 3),
        0,
        0,
    ]
    with store.session() as session:
        assert refresh_priorities(session, as_of=TODAY) == 2  # the other two open ones
        assert refresh_priorities(session, as_of=TODAY) == 0  # nothing changed since
        assert refresh_priorities(session, as_of=TODAY + timedelta(days=1)) == 4


def test_caps_keep_every_part_in_its_digits(store: App) -> None:
    with store.session() as session:
        (case_id,) = add_open_cases(session, [(HEPING, 10**15, date(1700, 1, 1))])
        refresh_priorities(session, as_of=TODAY)
    assert priorities(store)[case_id] == 10**18 - 1


# --------------------------------------------------------------------------------------------
# Taking cases
# --------------------------------------------------------------------------------------------


def test_one_taker_gets_the_cases_in_queue_order(store: App) -> None:
    rng = random.Random(7)
    specs = [
        (HEPING, rng.choice([100_00, 5000_00, BIG]), days_ago(rng.randint(0, 90)))
        for _ in range(40)
    ]
    with store.session() as session:
        ids = add_open_cases(session, specs)
        officer = add_user(session, "wang", "officer", [HEPING])
    for case_id in ids[::7]:
        add_task(store, case_id, TODAY - timedelta(days=1))
    for case_id in ids[3::9]:
        add_deadline(store, case_id, TODAY + timedelta(days=3))
    with store.session() as session:
        refresh_priorities(session, as_of=TODAY)
    ranked = priorities(store)
    expected = sorted(ids, key=lambda i: (ranked[i], i), reverse=True)
    taken = []
    while True:
        with store.session() as session:
            case_id = take_next(session, actor=officer, today=TODAY)
        if case_id is None:
            break
        taken.append(case_id)
    assert taken == expected
    assert set(claimed(store).values()) == {officer.user_id}
    with store.session() as session:
        events = (
            session.execute(
                select(CaseEvent).where(CaseEvent.kind == "case_claimed").order_by(CaseEvent.id)
            )
            .scalars()
            .all()
        )
        assert [e.case_id for e in events] == expected
        assert {(e.actor, e.message, e.on_date) for e in events} == {
            ("wang", "took the case from the queue", TODAY)
        }
        case = session.get(Case, expected[0])
        assert case is not None and case.claimed_at is not None


def test_officers_take_only_cases_of_their_districts(store: App) -> None:
    with store.session() as session:
        ids = add_open_cases(
            session,
            [(d, BIG if d == HEDONG else 100_00, TODAY) for d in (HEPING, HEDONG, HEXI) * 5],
        )
        heping = add_user(session, "wang", "officer", [HEPING])
        both = add_user(session, "li", "officer", [HEDONG, HEXI])
        supervisor = add_user(session, "zhao", "supervisor", [HEXI])
        admin = add_user(session, "root", "admin", [])
        refresh_priorities(session, as_of=TODAY)
    district = dict(zip(ids, [HEPING, HEDONG, HEXI] * 5, strict=True))
    with store.session() as session, pytest.raises(NotAllowed, match="does not serve 河东区"):
        take_next(session, actor=heping, today=TODAY, districts=[HEDONG])

    def drain(actor: Actor, districts: list[str] | None = None) -> list[int]:
        got = []
        while True:
            with store.session() as session:
                case_id = take_next(session, actor=actor, today=TODAY, districts=districts)
            if case_id is None:
                return got
            got.append(case_id)

    assert {district[i] for i in drain(heping)} == {HEPING}
    assert {district[i] for i in drain(both, [HEXI])} == {HEXI}
    assert drain(supervisor) == []  # Hexi is taken already
    assert len(drain(admin)) == 5  # the admin serves every district: Hedong's are left
    assert None not in claimed(store).values()


def test_eight_threads_take_every_case_exactly_once(store: App) -> None:
    with store.session() as session:
        ids = add_open_cases(
            session, [(HEPING, 100_00 * (i % 17 + 1), days_ago(i % 30)) for i in range(300)]
        )
        actors = [add_user(session, f"officer{n}", "officer", [HEPING]) for n in range(8)]
        refresh_priorities(session, as_of=TODAY)
    barrier = threading.Barrier(len(actors))
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def taker(actor: Actor) -> None:
        got: list[int] = []
        try:
            barrier.wait()
            while True:
                with store.session() as session:
                    case_id = take_next(session, actor=actor, today=TODAY)
                if case_id is None:
                    break
                got.append(case_id)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        results[actor.user_id] = got

    threads = [threading.Thread(target=taker, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert_each_case_once(store, ids, results)
    assert sum(1 for got in results.values() if got) > 1  # the takers did overlap


def _take_in_process(
    env: dict[str, str], actor: Actor, barrier: Any, queue: Any
) -> None:  # pragma: no cover - runs in the child
    app = App(
        Settings(
            data_dir=Path(env["ARREARS_DATA_DIR"]), database_url=env.get("ARREARS_DATABASE_URL")
        )
    )
    got: list[int] = []
    with app.engine.connect():
        pass  # connect before the start signal
    barrier.wait()
    while True:
        with app.session() as session:
            case_id = take_next(session, actor=actor, today=TODAY)
        if case_id is None:
            break
        got.append(case_id)
    app.engine.dispose()
    queue.put((actor.user_id, got))


@pytest.mark.slow
def test_four_processes_take_every_case_exactly_once(store: App, db_env: dict[str, str]) -> None:
    with store.session() as session:
        ids = add_open_cases(
            session, [(HEPING, 100_00 * (i % 13 + 1), days_ago(i % 40)) for i in range(300)]
        )
        actors = [add_user(session, f"officer{n}", "officer", [HEPING]) for n in range(4)]
        refresh_priorities(session, as_of=TODAY)
    store.engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(actors))
    queue = ctx.Queue()
    processes = [
        ctx.Process(target=_take_in_process, args=(db_env, actor, barrier, queue))
        for actor in actors
    ]
    for p in processes:
        p.start()
    results = dict(queue.get(timeout=180) for _ in processes)
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert_each_case_once(store, ids, results)


def assert_each_case_once(store: App, ids: list[int], results: dict[int, list[int]]) -> None:
    handed = [case_id for got in results.values() for case_id in got]
    assert sorted(handed) == sorted(ids)  # every case once: none twice, none skipped
    owners = claimed(store)
    assert all(owners[case_id] == officer for officer, got in results.items() for case_id in got)
    with store.session() as session:
        events = Counter(
            session.execute(
                select(CaseEvent.case_id).where(CaseEvent.kind == "case_claimed")
            ).scalars()
        )
    assert events == Counter(ids)


@pytest.mark.parametrize(
    ("served", "index"),
    [([HEPING], "ix_case_unclaimed_district"), ([HEPING, HEXI], "ix_case_unclaimed_queue")],
)
def test_take_next_reads_the_partial_index(store: App, served: list[str], index: str) -> None:
    """One district: its own unclaimed rows in order; several: the city's queue, filtered on
    the case's own district (no join to the employer)."""
    with store.session() as session:
        add_open_cases(session, [(HEPING, 100_00, TODAY)] * 20 + [(HEXI, 100_00, TODAY)] * 20)
        officer = add_user(session, "wang", "officer", served)
    ran: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if 'UPDATE "CASE"' in statement.upper():  # the claim (with the chain head's lock on PG)
            ran.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        with store.session() as session:
            assert take_next(session, actor=officer, today=TODAY) is not None
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    ((statement, parameters),) = ran
    assert "employer" not in statement
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "postgresql":
            assert "FOR UPDATE OF" in statement and "SKIP LOCKED" in statement
            connection.exec_driver_sql("SET enable_seqscan = off")  # 40 rows: ask the real question
            rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        else:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = "\n".join(str(r[-1]) for r in rows)
        connection.rollback()
    assert index in plan, plan


def test_a_claim_is_chained_onto_the_case_log(store: App) -> None:
    """The claim's event extends the case's chain: after the events it had, or as its first."""
    with store.session() as session:
        logged, fresh = add_open_cases(session, [(HEPING, BIG, TODAY), (HEPING, 100_00, TODAY)])
        add_events(
            session,
            [
                event_row(
                    case_id=logged, kind="note", message=f"note {n}", on_date=TODAY, actor="wang"
                )
                for n in (1, 2)
            ],
        )
        officer = add_user(session, "wang", "officer", [HEPING])
    with store.session() as session:
        taken = {take_next(session, actor=officer, today=TODAY) for _ in range(2)}
    assert taken == {logged, fresh}
    with store.session() as session:
        claims = {
            row.case_id: (row.seq, row.prev_hash, row.hash)
            for row in session.execute(
                select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.prev_hash, CaseEvent.hash).where(
                    CaseEvent.kind == "case_claimed"
                )
            )
        }
        second_note = session.execute(
            select(CaseEvent.hash).where(CaseEvent.case_id == logged, CaseEvent.seq == 2)
        ).scalar_one()
        heads = {
            row.case_id: row.hash
            for row in session.execute(select(CaseLogHead.case_id, CaseLogHead.hash))
        }
        report = verify(session)
    assert claims[logged][:2] == (3, second_note)
    assert claims[fresh][:2] == (1, GENESIS)
    assert heads == {logged: claims[logged][2], fresh: claims[fresh][2]}
    assert report.ok and report.chains == 2 and report.events == 4


def test_release_gives_a_case_back_to_the_queue(store: App) -> None:
    with store.session() as session:
        (case_id,) = add_open_cases(session, [(HEPING, 100_00, TODAY)])
        wang = add_user(session, "wang", "officer", [HEPING])
        li = add_user(session, "li", "officer", [HEPING])
        zhao = add_user(session, "zhao", "supervisor", [HEPING])
        qian = add_user(session, "qian", "supervisor", [HEXI])
    with store.session() as session:
        assert take_next(session, actor=wang, today=TODAY) == case_id
    with store.session() as session, pytest.raises(NotAllowed, match="wang's"):
        release(session, actor=li, case_id=case_id, today=TODAY)
    with store.session() as session, pytest.raises(CaseNotFound):
        release(session, actor=qian, case_id=case_id, today=TODAY)
    with store.session() as session:
        release(session, actor=wang, case_id=case_id, today=TODAY)
    assert claimed(store)[case_id] is None
    with store.session() as session, pytest.raises(ValueError, match="in the queue already"):
        release(session, actor=wang, case_id=case_id, today=TODAY)
    with store.session() as session:
        assert take_next(session, actor=li, today=TODAY) == case_id
        release(session, actor=zhao, case_id=case_id, today=TODAY)
    with store.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.officer_id is None and case.claimed_at is None
        messages = session.execute(
            select(CaseEvent.actor, CaseEvent.message)
            .where(CaseEvent.kind == "case_released")
            .order_by(CaseEvent.id)
        ).all()
    assert [tuple(m) for m in messages] == [
        ("wang", "gave the case back to the queue"),
        ("zhao", "gave the case back to the queue (it was li's)"),
    ]


# --------------------------------------------------------------------------------------------
# The queue
# --------------------------------------------------------------------------------------------


def test_the_queue_pages_scopes_and_filters(store: App) -> None:
    rng = random.Random(11)
    districts = [HEPING, HEDONG] * 30
    with store.session() as session:
        ids = add_open_cases(
            session, [(d, rng.randint(1, 10**6), days_ago(rng.randint(0, 60))) for d in districts]
        )
        wang = add_user(session, "wang", "officer", [HEPING])
        li = add_user(session, "li", "officer", [HEPING, HEDONG])
        zhao = add_user(session, "zhao", "supervisor", [HEPING])
        admin = add_user(session, "root", "admin", [])
        session.execute(
            text("UPDATE \"case\" SET stage = 6, stage_step = 'order_to_pay' WHERE id IN (:a, :b)"),
            {"a": ids[0], "b": ids[2]},
        )
        session.execute(
            text("UPDATE \"case\" SET status = 'promised' WHERE id = :a"), {"a": ids[4]}
        )
    add_task(store, ids[10], TODAY - timedelta(days=2))
    add_deadline(store, ids[12], TODAY + timedelta(days=5))
    with store.session() as session:
        refresh_priorities(session, as_of=TODAY)
    mine = []
    for actor in (wang, wang, li):
        with store.session() as session:
            case_id = take_next(session, actor=actor, today=TODAY, districts=[HEPING])
        assert case_id is not None
        mine.append(case_id)
    ranked = priorities(store)
    owner = claimed(store)
    district = dict(zip(ids, districts, strict=True))

    def expected(keep: Any) -> list[int]:
        return sorted((i for i in ids if keep(i)), key=lambda i: (ranked[i], i), reverse=True)

    def page_ids(actor: Actor, **kw: Any) -> tuple[list[int], int]:
        with store.session() as session:
            page = officer_queue(session, actor=actor, as_of=TODAY, **kw)
        return [r.case_id for r in page.rows], page.total

    # An officer: their own cases and the unclaimed ones of their districts, paged.
    wang_view = expected(
        lambda i: owner[i] == wang.user_id or (owner[i] is None and district[i] == HEPING)
    )
    pages = [page_ids(wang, limit=7, offset=o) for o in range(0, 35, 7)]
    assert all(total == len(wang_view) for _, total in pages)
    assert [i for got, _ in pages for i in got] == wang_view
    assert page_ids(wang, scope="mine") == (expected(lambda i: owner[i] == wang.user_id), 2)
    unclaimed_heping = expected(lambda i: owner[i] is None and district[i] == HEPING)
    assert page_ids(wang, scope="unassigned", limit=100) == (unclaimed_heping, 27)
    # A supervisor: every case of their districts, whoever holds it; an admin: every district.
    assert page_ids(zhao, limit=100)[0] == expected(lambda i: district[i] == HEPING)
    assert page_ids(admin, limit=100)[1] == 60
    assert page_ids(admin, district=HEDONG, limit=100)[0] == expected(
        lambda i: district[i] == HEDONG
    )
    # Filters.
    assert page_ids(admin, stage="order_to_pay")[0] == expected(lambda i: i in (ids[0], ids[2]))
    assert page_ids(admin, status="promised") == ([ids[4]], 1)
    assert ids[0] not in page_ids(admin, stage="none", limit=100)[0]

    # A row in full, and what put it on top.
    with store.session() as session:
        rows = {
            r.case_id: r for r in officer_queue(session, actor=admin, as_of=TODAY, limit=100).rows
        }
    task_row, deadline_row = rows[ids[10]], rows[ids[12]]
    assert (task_row.top_reason, task_row.top_what, task_row.top_on) == (
        "task",
        "phone_call",
        TODAY - timedelta(days=2),
    )
    assert (deadline_row.top_reason, deadline_row.top_on) == ("deadline", TODAY + timedelta(days=5))
    assert task_row.tier == 2 and deadline_row.tier == 1
    first = rows[mine[0]]
    assert first.officer == "wang" and first.district == HEPING
    assert first.owed_fen == specs_owed(store, mine[0])
    assert first.days_overdue >= 0 and first.employer_code and first.employer_name


def specs_owed(store: App, case_id: int) -> int:
    with store.session() as session:
        return int(
            session.execute(
                text(
                    "SELECT sum(amount_due_fen - principal_paid_fen) FROM arrears_item "
                    "WHERE case_id = :c"
                ),
                {"c": case_id},
            ).scalar_one()
        )


@pytest.mark.parametrize(
    ("filters", "error", "message"),
    [
        ({"district": "火星区"}, ValueError, "unknown district '火星区'"),
        ({"district": "河东区"}, NotAllowed, "wang does not serve 河东区"),
        ({"stage": "lunch"}, ValueError, "unknown stage 'lunch'"),
        ({"status": "sleeping"}, ValueError, "unknown status 'sleeping'"),
        ({"status": "closed_paid"}, ValueError, "the queue holds open cases only"),
        ({"scope": "everything"}, ValueError, "unknown queue scope"),
        ({"limit": 0}, ValueError, "a page holds 1 to 500 cases"),
        ({"offset": -1}, ValueError, "cannot be negative"),
    ],
)
def test_the_queue_refuses_filters_it_cannot_hold(
    store: App, filters: dict[str, Any], error: type[Exception], message: str
) -> None:
    with store.session() as session:
        add_open_cases(session, [(HEPING, 100_00, TODAY), (HEDONG, 100_00, TODAY)])
        wang = add_user(session, "wang", "officer", [HEPING])
    with store.session() as session, pytest.raises(error, match=message):
        officer_queue(session, actor=wang, as_of=TODAY, **filters)
