"""Retention: a case's record stays ten years after it closed; the purge removes older ones, once
their years are archived, and logs what it removed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from arrears.cli import app as cli
from arrears.wiring import App
from cases import casework, logcheck, logseal
from cases.models import (
    Allocation,
    ArrearsItem,
    Case,
    CaseEvent,
    Employer,
    Notice,
    Payment,
    PurgeLog,
)
from tests.factories import add_open_cases

runner = CliRunner()


def run(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def _closed_case(store: App, *, opened: date, closed: date, tag: str) -> int:
    """A case paid and closed: two events dated in its years, a filed letter, a payment."""
    with store.session() as session:
        (case_id,) = add_open_cases(session, [("和平区", 50_000, opened)])
        casework.add_events(
            session,
            [
                casework.event_row(
                    case_id=case_id, kind="note", message=f"{tag} call", on_date=opened,
                    actor="officer1",
                ),
                casework.event_row(
                    case_id=case_id, kind="status_changed", message="closed as paid",
                    on_date=closed, actor="system:payments",
                ),
            ],
        )  # fmt: skip
        sha = store.documents.put(f"%PDF-1.7 letter of {tag}".encode())
        session.add(
            Notice(
                case_id=case_id,
                business_key=f"{case_id}:reminder_letter:letter:{opened}",
                step="reminder_letter",
                level=3,
                channel="letter",
                document_type="reminder_letter",
                status="printed",
                document_number=f"津和社保催〔{opened.year}〕第{case_id:06d}号",
                issued_on=opened,
                content_sha256=sha,
            )
        )
        case = session.get(Case, case_id)
        assert case is not None
        payment = Payment(
            employer_id=case.employer_id, amount_fen=50_000, paid_on=closed, reference=f"P-{tag}"
        )
        session.add(payment)
        session.flush()
        item = session.execute(
            select(ArrearsItem).where(ArrearsItem.case_id == case_id)
        ).scalar_one()
        session.add(
            Allocation(
                payment_id=payment.id or 0,
                employer_id=case.employer_id,
                item_id=item.id,
                principal_fen=50_000,
                paid_on=closed,
            )
        )
        case.status, case.closed_on = "closed_paid", closed
    return case_id


def _rows(store: App, case_id: int) -> dict[str, int]:
    with store.engine.connect() as c:
        return {
            t: c.execute(text(f'SELECT count(*) FROM "{t}" WHERE {k} = :c'), {"c": case_id})
            .scalar_one()
            for t, k in (("case", "id"), ("case_event", "case_id"), ("notice", "case_id"),
                         ("arrears_item", "case_id"), ("case_log_head", "case_id"))
        }  # fmt: skip


def test_an_old_archived_case_is_purged_and_logged(
    store: App, db_env: dict[str, str], tmp_path: Path
) -> None:
    old = _closed_case(store, opened=date(2013, 11, 4), closed=date(2014, 3, 31), tag="old")
    kept = _closed_case(store, opened=date(2014, 1, 6), closed=date(2020, 6, 30), tag="young")
    heads = logseal.heads_folder(store.settings.data_dir)
    with store.session() as session:
        logseal.seal_and_commit(session, day=date(2014, 3, 31), folder=heads)
        pdf = store.documents.path(
            session.execute(select(Notice.content_sha256).where(Notice.case_id == old)).scalar_one()
            or ""
        )
        employers = {
            case_id: session.execute(
                select(Case.employer_id).where(Case.id == case_id)
            ).scalar_one()
            for case_id in (old, kept)
        }
    assert pdf.is_file()
    for year in ("2013", "2014", "2020"):
        made = run(db_env, "archive", "export", "--year", year)
        assert made.exit_code == 0, made.output
    dry = run(db_env, "purge", "--closed-before", "2015-01-01", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"case {old} (" in dry.stdout and "would be removed; nothing was" in dry.stdout
    assert _rows(store, old)["case"] == 1

    done = run(db_env, "purge", "--closed-before", "2015-01-01", "--yes")
    assert done.exit_code == 0, done.output
    assert f"purged case {old}" in done.stdout and "1 PDF file(s) removed" in done.stdout
    assert set(_rows(store, old).values()) == {0}
    assert _rows(store, kept)["case_event"] == 2  # the younger case is untouched
    assert not pdf.exists()
    with store.session() as session:
        (entry,) = session.execute(select(PurgeLog)).scalars().all()
        assert session.execute(select(Payment).where(Payment.reference == "P-old")).first() is None
        # The employer had no other case: it goes; the other employer stays.
        assert session.get(Employer, employers[old]) is None
        assert session.get(Employer, employers[kept]) is not None
    assert (entry.case_id, entry.closed_on, entry.status) == (old, date(2014, 3, 31), "closed_paid")
    assert entry.employer_name == "天津第0商贸有限公司" and entry.chain_seq == 2
    assert entry.counts["case_event"] == 2 and entry.counts["notice"] == 1
    assert entry.counts["payment"] == 1 and entry.archived_years == [2013, 2014]
    assert entry.purged_by.startswith("console:")
    # The purged chain is in the exported heads, but it ended on purpose: the log is intact.
    with store.session() as session:
        report = logcheck.verify(session, heads_dir=heads)
    assert report.ok, report.as_dict()
    assert report.purged == 1
    checked = run(db_env, "log", "verify")
    assert checked.exit_code == 0 and "1 purged case(s) skipped" in checked.stdout
    # The year's archive made again after the purge still verifies (the case is listed purged).
    again = run(db_env, "archive", "export", "--year", "2014", "--force")
    assert again.exit_code == 0, again.output


def test_a_younger_case_is_refused_and_nothing_is_removed(
    store: App, db_env: dict[str, str]
) -> None:
    old = _closed_case(store, opened=date(2013, 11, 4), closed=date(2014, 3, 31), tag="old")
    young = _closed_case(store, opened=date(2019, 5, 6), closed=date(2020, 6, 30), tag="young")
    for year in ("2013", "2014", "2019", "2020"):
        assert run(db_env, "archive", "export", "--year", year).exit_code == 0
    refused = run(db_env, "purge", "--closed-before", "2021-01-01", "--yes")
    assert refused.exit_code == 1
    assert f"refused: case {young} (" in refused.stdout
    assert "closed on 2020-06-30: younger than ten years" in refused.stdout
    assert "kept until 2030-06-29" in refused.stdout
    assert "nothing was removed" in refused.stderr
    assert _rows(store, old)["case"] == 1 and _rows(store, young)["case"] == 1


def test_an_old_case_whose_years_were_not_exported_is_refused(
    store: App, db_env: dict[str, str]
) -> None:
    old = _closed_case(store, opened=date(2013, 11, 4), closed=date(2014, 3, 31), tag="old")
    assert run(db_env, "archive", "export", "--year", "2014").exit_code == 0
    refused = run(db_env, "purge", "--closed-before", "2015-01-01", "--yes")
    assert refused.exit_code == 1
    assert f"case {old} (" in refused.stdout
    assert "the archive of 2013 was never exported" in refused.stdout
    assert _rows(store, old)["case_event"] == 2
    # An event written after the export: the archive no longer holds the case as it is.
    assert run(db_env, "archive", "export", "--year", "2013").exit_code == 0
    with store.session() as session:
        casework.add_events(
            session,
            [
                casework.event_row(
                    case_id=old, kind="note", message="late note", on_date=date(2014, 3, 31),
                    actor="officer1",
                )
            ],
        )  # fmt: skip
    stale = run(db_env, "purge", "--closed-before", "2015-01-01", "--yes")
    assert stale.exit_code == 1
    assert "the archive of 2013, 2014 was exported before the case's last event" in stale.stdout


def test_the_database_refuses_to_delete_a_young_case_record(store: App) -> None:
    young = _closed_case(store, opened=date(2019, 5, 6), closed=date(2020, 6, 30), tag="young")
    with store.session() as session:
        (open_case,) = add_open_cases(session, [("和平区", 9_000, date(2026, 9, 1))])
    for statement, params in (
        ("DELETE FROM notice WHERE case_id = :c", {"c": young}),
        ("DELETE FROM arrears_item WHERE case_id = :c", {"c": open_case}),
        ('DELETE FROM "case" WHERE id = :c', {"c": open_case}),
    ):
        with pytest.raises(DatabaseError, match="kept ten years"), store.engine.begin() as c:
            c.execute(text(statement), params)
    if store.engine.dialect.name == "postgresql":
        old = _closed_case(store, opened=date(2013, 11, 4), closed=date(2014, 3, 31), tag="old")
        # Old enough, but not in a purge's transaction: refused too.
        with pytest.raises(DatabaseError, match="kept ten years"), store.engine.begin() as c:
            c.execute(text("DELETE FROM notice WHERE case_id = :c"), {"c": old})
        with pytest.raises(DatabaseError, match="kept ten years"), store.engine.begin() as c:
            c.execute(text("TRUNCATE notice CASCADE"))
    with store.session() as session:
        assert session.execute(select(Notice).where(Notice.case_id == young)).first() is not None
        assert session.execute(select(CaseEvent).where(CaseEvent.case_id == young)).first()


def test_the_logs_of_exports_and_purges_are_append_only(store: App, db_env: dict[str, str]) -> None:
    _closed_case(store, opened=date(2013, 11, 4), closed=date(2014, 3, 31), tag="old")
    assert run(db_env, "archive", "export", "--year", "2013").exit_code == 0
    for statement in ("UPDATE archive_export SET year = 2012", "DELETE FROM archive_export"):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as c:
            c.execute(text(statement))
