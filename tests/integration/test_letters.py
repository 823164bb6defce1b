"""Letters end to end: issued from a case, printed with a CJK font, filed, served, batched."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlmodel import col
from typer.testing import CliRunner

from arrears.cli import app
from arrears.wiring import App
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    Case,
    EmployerStatement,
    Notice,
    TransferExecution,
)
from cases.numerals import capital_yuan
from cases.policy import STEP_KINDS
from notifications.letters import LetterDetails
from notifications.pdf import has_cjk_font
from tests.factories import CODES, ledger_row, write_ledger

runner = CliRunner()
LETTER_STEPS = [k for k in STEP_KINDS if k not in {"sms_reminder", "phone_reminder"}]


def run(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace(
        "\n", ""
    )


@pytest.fixture
def case_id(db_env: dict[str, str], store: App, tmp_path: Path) -> int:
    ledger = write_ledger(
        tmp_path / "l.csv",
        [
            ledger_row(amount_due="12345.67"),
            ledger_row(insurance="medical", amount_due="2000.00"),
            ledger_row(period="2026-09", due_date="2026-10-15", amount_due="8000.50"),
        ],
    )
    assert run(db_env, "import-ledger", str(ledger), "--as-of", "2026-09-20").exit_code == 0
    with store.session() as session:
        return session.execute(select(Case.id)).scalar_one()


def _total_due_fen(store: App, day: date) -> int:
    from cases.queue import list_cases

    with store.session() as session:
        (summary,) = list_cases(session, as_of=day, rules=store.policy.fee_rules)
    return summary.total_due


def _unlock_every_step(store: App, case_id: int) -> None:
    """Put the case where each enforcement letter is allowed: served order and demand, a bank
    inquiry and supervisor approvals."""
    with store.session() as session:
        session.execute(update(Case).where(col(Case.id) == case_id).values(stage=6, malicious=True))
        for step, level, issued, served in (
            # Served in May: the 6 months to appeal it by lawsuit ran out on 11 Nov, so the
            # court may be asked from 12 Nov (Administrative Compulsion Law art. 53).
            ("order_to_pay", 6, date(2026, 5, 8), date(2026, 5, 11)),
            ("enforcement_demand", 7, date(2026, 10, 26), date(2026, 10, 27)),
        ):
            session.add(
                Notice(
                    case_id=case_id,
                    business_key=f"seed:{step}",
                    step=step,
                    level=level,
                    channel="letter",
                    document_type=step,
                    status="served",
                    document_number=f"津测试〔2026〕第{level:06d}号",
                    issued_on=issued,
                    served_on=served,
                )
            )
        session.add(
            BankInquiry(
                case_id=case_id,
                bank_name="中国银行天津和平支行",
                account_number="6216601234567890",
                balance_fen=900_000_000,
                inquired_on=date(2026, 11, 10),
                recorded_by="officer1",
            )
        )
        session.add(
            EmployerStatement(
                case_id=case_id,
                kind="none_made",
                received_on=date(2026, 11, 11),
                summary="催告书期限内未收到陈述、申辩",
                recorded_by="officer1",
            )
        )
        for step in ("forced_transfer", "collateral_demand", "court_application"):
            session.add(
                ApprovalRequest(
                    case_id=case_id,
                    step=step,
                    status="approved",
                    requested_on=date(2026, 11, 11),
                    reason="test",
                    decided_by="supervisor1",
                    decided_on=date(2026, 11, 12),
                )
            )


@pytest.mark.parametrize("step", LETTER_STEPS)
def test_each_letter_states_who_what_and_how_much(store: App, case_id: int, step: str) -> None:
    """Every letter type: employer, USCC, number, each amount, the capital total, a CJK font."""
    day = date(2026, 11, 26)
    if step in {"forced_transfer", "collateral_demand", "court_application"}:
        _unlock_every_step(store, case_id)
        if step == "collateral_demand":
            with store.session() as session:
                session.execute(update(BankInquiry).values(balance_fen=1_000))
        if step == "court_application":
            # The transfer was taken and the bank paid nothing: the court is next.
            with store.session() as session:
                session.add(
                    Notice(
                        case_id=case_id,
                        business_key="seed:transfer",
                        step="forced_transfer",
                        level=8,
                        channel="letter",
                        document_type="forced_transfer_decision",
                        status="served",
                        document_number="津测试〔2026〕第000008号",
                        issued_on=date(2026, 11, 12),
                        served_on=date(2026, 11, 13),
                    )
                )
    with store.session() as session:
        facts_before = store.letter_desk(session)
        if step == "enforcement_demand":
            session.add(
                Notice(
                    case_id=case_id,
                    business_key="seed:order",
                    step="order_to_pay",
                    level=6,
                    channel="letter",
                    document_type="order_to_pay",
                    status="served",
                    document_number="津测试〔2026〕第000006号",
                    issued_on=date(2026, 11, 2),
                    served_on=date(2026, 11, 3),
                )
            )
            session.execute(update(Case).where(col(Case.id) == case_id).values(stage=6))
        letters = facts_before.issue(case_id=case_id, step_kind=step, issued_on=day, actor="test")
    assert letters
    for letter in letters:
        data = store.documents.read(letter.sha256)
        assert has_cjk_font(data)
        text = pdf_text(data)
        assert letter.document_number in text
        assert "天津市和平区某某商贸有限公司" in text
        if letter.document_type == "bank_transfer_notice":
            continue  # the bank gets the account and the amount, not the arrears table
        assert CODES[0] in text
        # Principal per item as of 2026-11-26, and the capital-numeral total.
        for amount in ("12,345.67", "2,000.00", "8,000.50", "22,346.17"):
            assert amount in text, (letter.document_type, amount)
        assert capital_yuan(_total_due_fen(store, day)) in text
    with store.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.stage_step == step


def test_hostile_employer_name_prints_literally_and_fetches_nothing(
    db_env: dict[str, str], store: App, tmp_path: Path
) -> None:
    hostile = '<img src="file:///etc/passwd">天津恶意有限公司'
    ledger = write_ledger(tmp_path / "h.csv", [ledger_row(employer_name=hostile)])
    assert run(db_env, "import-ledger", str(ledger), "--as-of", "2026-10-01").exit_code == 0
    with store.session() as session:
        case_id = session.execute(select(Case.id)).scalar_one()
        (letter,) = store.letter_desk(session).issue(
            case_id=case_id, step_kind="reminder_letter", issued_on=date(2026, 10, 20), actor="t"
        )
    data = store.documents.read(letter.sha256)
    text = pdf_text(data)
    assert letter.pages == 1  # a reminder with a few rows is one sheet for the post room
    assert '<img src="file:///etc/passwd">天津恶意有限公司' in text
    assert "root:x:0:0" not in text
    reader = PdfReader(io.BytesIO(data))
    assert "/EmbeddedFiles" not in str(reader.trailer["/Root"].get("/Names", {}))
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            assert annotation.get_object().get("/Subtype") != "/FileAttachment"


def test_reissue_gives_the_stored_letter_and_numbers_run_on(
    db_env: dict[str, str], store: App, case_id: int, tmp_path: Path
) -> None:
    first = run(
        db_env, "letters", "issue", CODES[0], "--step", "reminder_letter", "--as-of", "2026-10-20"
    )
    assert first.exit_code == 0, first.output
    again = run(
        db_env, "letters", "issue", CODES[0], "--step", "reminder_letter", "--as-of", "2026-10-20"
    )
    assert "already issued" in again.stdout
    number = first.stdout.split()[1]
    assert number == again.stdout.split()[2]
    assert number == "津和社保催〔2026〕第000001号"
    next_day = run(
        db_env, "letters", "issue", CODES[0], "--step", "reminder_letter", "--as-of", "2026-10-21"
    )
    assert "津和社保催〔2026〕第000002号" in next_day.stdout
    shown = tmp_path / "one.pdf"
    assert run(db_env, "letters", "show", number, "--out", str(shown)).exit_code == 0
    with store.session() as session:
        sha = session.execute(
            select(Notice.content_sha256).where(Notice.document_number == number)
        ).scalar_one()
    assert sha is not None and shown.read_bytes() == store.documents.read(sha)


def test_qr_code_checks_a_printed_letter_against_the_record(
    db_env: dict[str, str], store: App, case_id: int
) -> None:
    with store.session() as session:
        (letter,) = store.letter_desk(session).issue(
            case_id=case_id, step_kind="reminder_letter", issued_on=date(2026, 10, 20), actor="t"
        )
        digest = session.execute(
            select(Notice.data_sha256).where(Notice.document_number == letter.document_number)
        ).scalar_one()
    assert digest is not None and digest[:16] in pdf_text(store.documents.read(letter.sha256))
    good = run(db_env, "letters", "verify", f"{letter.document_number}|{digest}")
    assert good.exit_code == 0 and "matches the record" in good.stdout
    forged = run(db_env, "letters", "verify", f"{letter.document_number}|{'0' * 64}")
    assert forged.exit_code == 1 and "does NOT match" in forged.stderr


def test_enforcement_letter_refused_until_the_procedure_allows_it(
    db_env: dict[str, str], case_id: int
) -> None:
    result = run(
        db_env,
        "letters",
        "issue",
        CODES[0],
        "--step",
        "enforcement_demand",
        "--as-of",
        "2026-11-26",
    )
    assert result.exit_code == 1
    assert "cannot be issued" in result.stderr and "order_to_pay" in result.stderr


def test_service_sets_the_deadline_in_working_days(
    db_env: dict[str, str], store: App, case_id: int
) -> None:
    issued = run(
        db_env, "letters", "issue", CODES[0], "--step", "order_to_pay", "--as-of", "2026-09-25"
    )
    assert issued.exit_code == 0, issued.output
    number = issued.stdout.split()[1]
    # Served Monday 2026-09-28: 10 working days skip the National Day holiday (Oct 1-7) and
    # count the make-up Saturday Oct 10: 29, 30, 8, 9, 10, 12, 13, 14, 15, 16 -> 2026-10-16.
    served = run(
        db_env,
        "letters",
        "serve",
        number,
        "--method",
        "post",
        "--date",
        "2026-09-28",
        "--receipt",
        "R-1",
    )
    assert served.exit_code == 0, served.output
    assert "deadline 2026-10-16" in served.stdout
    twice = run(db_env, "letters", "serve", number, "--method", "post", "--date", "2026-09-29")
    assert twice.exit_code == 1 and "already served" in twice.stderr
    listed = json.loads(run(db_env, "letters", "list", "--json").stdout)
    assert listed[0]["served_on"] == "2026-09-28" and listed[0]["deadline_on"] == "2026-10-16"
    bad = run(db_env, "letters", "serve", number, "--method", "pigeon", "--date", "2026-09-28")
    assert bad.exit_code == 1 and "unknown service method" in bad.stderr


def test_print_batch_merges_the_days_letters_with_a_manifest(
    db_env: dict[str, str], store: App, tmp_path: Path
) -> None:
    ledger = write_ledger(
        tmp_path / "l.csv",
        [
            ledger_row(code, employer_name=f"天津第{i}商贸有限公司")
            for i, code in enumerate(CODES[:3])
        ],
    )
    run(db_env, "import-ledger", str(ledger), "--as-of", "2026-10-01")
    for code in CODES[:3]:
        assert (
            run(
                db_env,
                "letters",
                "issue",
                code,
                "--step",
                "reminder_letter",
                "--as-of",
                "2026-10-20",
            ).exit_code
            == 0
        )
    result = run(db_env, "letters", "batch", "--date", "2026-10-20", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    merged = PdfReader(tmp_path / "b" / "letters-2026-10-20.pdf")
    with (tmp_path / "b" / "letters-2026-10-20-manifest.csv").open(encoding="utf-8-sig") as fh:
        manifest = list(csv.DictReader(fh))
    assert [m["employer_code"] for m in manifest] == CODES[:3]
    assert sum(int(m["pages"]) for m in manifest) == len(merged.pages)
    assert [m["document_number"][-8:] for m in manifest] == [
        "第000001号",
        "第000002号",
        "第000003号",
    ]
    empty = run(db_env, "letters", "batch", "--date", "2026-10-21")
    assert empty.exit_code == 2 and "no letters" in empty.stderr


def test_details_reach_the_interview_notice(store: App, case_id: int) -> None:
    with store.session() as session:
        desk = store.letter_desk(
            session,
            LetterDetails(interview_at="2026-12-03 14:30", interview_place="和平区南京路189号三楼"),
        )
        (letter,) = desk.issue(
            case_id=case_id, step_kind="interview", issued_on=date(2026, 11, 26), actor="t"
        )
    text = pdf_text(store.documents.read(letter.sha256))
    assert "2026年12月3日（星期四）下午2:30" in text
    assert "和平区南京路189号三楼" in text


def test_court_application_lists_its_evidence(store: App, case_id: int) -> None:
    """The application's annex names every notice with its service and receipt, the approvals,
    the employer's statement and its review, the bank inquiry and what the bank transferred."""
    _unlock_every_step(store, case_id)
    with store.session() as session:
        session.execute(
            update(Notice)
            .where(col(Notice.step) == "order_to_pay")
            .values(service_method="in_person", receipt_number="SD-0006")
        )
        session.execute(
            update(Notice)
            .where(col(Notice.step) == "enforcement_demand")
            .values(service_method="post", receipt_number="SD-0007")
        )
        transfer = Notice(
            case_id=case_id,
            business_key="seed:transfer",
            step="forced_transfer",
            level=8,
            channel="letter",
            document_type="forced_transfer_decision",
            status="printed",
            document_number="津测试〔2026〕第000008号",
            issued_on=date(2026, 11, 12),
        )
        session.add(transfer)
        session.flush()
        session.add(
            EmployerStatement(
                case_id=case_id,
                kind="statement",
                received_on=date(2026, 11, 2),
                summary="单位称资金周转困难",
                recorded_by="officer1",
                reviewed_on=date(2026, 11, 4),
                reviewed_by="supervisor1",
                review_outcome="dismissed",
            )
        )
        session.add(
            TransferExecution(
                case_id=case_id,
                notice_id=transfer.id,
                bank_name="中国银行天津和平支行",
                account_number="6216601234567890",
                requested_fen=2_234_617,
                result="none",
                amount_fen=0,
                executed_on=date(2026, 11, 16),
                reference="BOC-TR-778",
                recorded_by="officer1",
            )
        )
    with store.session() as session:
        (letter,) = store.letter_desk(session).issue(
            case_id=case_id, step_kind="court_application", issued_on=date(2026, 11, 26), actor="t"
        )
    text = pdf_text(store.documents.read(letter.sha256))
    annex = text[text.index("证据材料清单") :]
    for expected in (
        # every notice: number, issue, service day and method, receipt
        "《社会保险费限期缴纳通知书》（津测试〔2026〕第000006号），2026年5月8日作出，"
        "2026年5月11日直接送达，送达回证编号SD-0006",
        "《催告书》（津测试〔2026〕第000007号），2026年10月26日作出，2026年10月27日邮寄送达，"
        "送达回证编号SD-0007",
        "《强制划拨决定书》（津测试〔2026〕第000008号），2026年11月12日作出，未记录送达",
        # the approvals granted, with who and when
        "强制划拨审批记录：2026年11月11日提请，经supervisor1于2026年11月12日批准",
        "申请法院强制执行审批记录：2026年11月11日提请，经supervisor1于2026年11月12日批准",
        # the statement and its review
        "被申请人陈述、申辩记录：2026年11月2日提出，单位称资金周转困难；复核意见：不予采纳"
        "（supervisor1于2026年11月4日复核）",
        # the bank: the inquiry and the transfer's result
        "存款账户查询结果：中国银行天津和平支行账号6216601234567890，2026年11月10日查询余额"
        "人民币9,000,000.00元",
        "划拨执行结果：中国银行天津和平支行账号6216601234567890，2026年11月16日应划拨人民币"
        "22,346.17元，实际划拨人民币0.00元（未划拨，银行流水号BOC-TR-778）",
    ):
        assert expected in annex, expected
    assert f"（{letter.document_number}）" not in annex  # not its own evidence
