"""Document numbers: per type and year, from 1, without gaps or duplicates under concurrency."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import Session, select

from arrears.wiring import App
from cases.models import DocumentSequence
from cases.numbering import format_number, next_number


def take(store: App, notice_type: str = "reminder", year: int = 2026) -> int:
    """One number in its own committed transaction, as one issued notice would take it."""
    with store.session() as session:
        return next_number(session, notice_type=notice_type, year=year)


def test_first_number_of_a_year_is_one_and_numbers_follow_on(store: App) -> None:
    assert [take(store) for _ in range(3)] == [1, 2, 3]
    with store.session() as session:
        row = session.exec(select(DocumentSequence)).one()
    assert (row.notice_type, row.year, row.last) == ("reminder", 2026, 3)


def test_types_and_years_count_separately(store: App) -> None:
    assert take(store, "reminder", 2026) == 1
    assert take(store, "reminder", 2026) == 2
    assert take(store, "order_to_pay", 2026) == 1
    assert take(store, "reminder", 2027) == 1
    assert take(store, "order_to_pay", 2026) == 2
    assert take(store, "reminder", 2026) == 3
    assert take(store, "reminder", 2027) == 2


def test_several_numbers_in_one_transaction(store: App) -> None:
    with store.session() as session:
        first = next_number(session, notice_type="reminder", year=2026)
        second = next_number(session, notice_type="reminder", year=2026)
    assert (first, second) == (1, 2)
    assert take(store) == 3


def test_a_rolled_back_issue_gives_its_number_back(store: App) -> None:
    assert take(store) == 1
    with Session(store.engine) as session:
        assert next_number(session, notice_type="reminder", year=2026) == 2
        assert next_number(session, notice_type="order_to_pay", year=2026) == 1
        session.rollback()
    assert take(store) == 2
    assert take(store, "order_to_pay") == 1


def test_a_failed_issue_inside_the_unit_of_work_leaves_no_gap(store: App) -> None:
    class PrintFailed(Exception):
        pass

    with pytest.raises(PrintFailed), store.session() as session:
        assert next_number(session, notice_type="reminder", year=2026) == 1
        raise PrintFailed
    assert take(store) == 1


@pytest.mark.parametrize(("notice_type", "year"), [("", 2026), ("reminder", 26), ("x", 10000)])
def test_nonsense_keys_are_refused(store: App, notice_type: str, year: int) -> None:
    with store.session() as session, pytest.raises(ValueError):
        next_number(session, notice_type=notice_type, year=year)


@pytest.mark.parametrize(
    ("prefix", "year", "number", "expected"),
    [
        ("津社保催", 2026, 123, "津社保催〔2026〕第000123号"),
        ("津社保催", 2026, 1, "津社保催〔2026〕第000001号"),
        ("津社保限缴", 2027, 45678, "津社保限缴〔2027〕第045678号"),
        ("津社保催", 2026, 999999, "津社保催〔2026〕第999999号"),
        ("津社保催", 2026, 1234567, "津社保催〔2026〕第1234567号"),
    ],
)
def test_format_number(prefix: str, year: int, number: int, expected: str) -> None:
    assert format_number(prefix, year, number) == expected


@pytest.mark.parametrize(("prefix", "year", "number"), [("", 2026, 1), ("津社保催", 2026, 0)])
def test_format_number_refuses_nonsense(prefix: str, year: int, number: int) -> None:
    with pytest.raises(ValueError):
        format_number(prefix, year, number)


WORKERS = 8
TOTAL = 500


def test_concurrent_issuers_get_distinct_gap_free_numbers(store: App) -> None:
    # Each worker issues its share, one number per short transaction, all starting together.
    shares = [TOTAL // WORKERS + (i < TOTAL % WORKERS) for i in range(WORKERS)]
    assert sum(shares) == TOTAL
    barrier = threading.Barrier(WORKERS + 1)
    taken: list[list[int]] = [[] for _ in range(WORKERS)]
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            for _ in range(shares[index]):
                with Session(store.engine) as session:
                    number = next_number(session, notice_type="reminder", year=2026)
                    session.commit()
                taken[index].append(number)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    started = time.perf_counter()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.perf_counter() - started
    assert not any(t.is_alive() for t in threads)
    assert failures == []

    numbers = [n for worker in taken for n in worker]
    assert len(numbers) == TOTAL
    assert sorted(numbers) == list(range(1, TOTAL + 1))  # distinct and without gaps
    for worker in taken:  # each worker saw its own numbers rise: no number went backwards
        assert worker == sorted(worker)
    with store.session() as session:
        row = session.get(DocumentSequence, ("reminder", 2026))
    assert row is not None and row.last == TOTAL
    backend = store.engine.url.get_backend_name()
    print(f"\n{TOTAL} numbers by {WORKERS} workers on {backend}: {elapsed:.2f} s")
