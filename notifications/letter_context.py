"""What a letter says: its template context, built from the record as of the issue date.

Everything a letter states goes into the context, and the context's hash is printed in the QR code,
so a printed letter can be checked against what the agency issued under its number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import segno
from sqlalchemy import select
from sqlmodel import Session, col

from cases.deadlines import LAWSUIT_MONTHS, RECONSIDERATION_DAYS
from cases.fines import served_order
from cases.models import (
    ApprovalRequest,
    BankInquiry,
    EmployerStatement,
    Fine,
    Notice,
    TransferExecution,
)
from cases.money import format_grouped
from cases.notices import (
    FINE_PAYMENT_DAYS,
    SERVICE_METHODS,
    LetterFacts,
    NoticeError,
)
from cases.numerals import capital_yuan
from cases.policy import Policy, Step
from notifications.texts import agency_context

INSURANCE_LABELS = {
    "pension": "养老保险",
    "medical": "医疗保险",
    "work_injury": "工伤保险",
    "unemployment": "失业保险",
    "maternity": "生育保险",
}
KIND_LABELS = {"declared_unpaid": "申报未缴", "undeclared": "未申报", "audit_finding": "稽核补缴"}
TITLES = {
    "reminder_letter": "社会保险费催缴通知书",
    "interview_notice": "约谈通知书",
    "inspection_referral": "社会保险费征缴检查通知书",
    "order_to_pay": "社会保险费限期缴纳通知书",
    "enforcement_demand": "催告书",
    "forced_transfer_decision": "强制划拨决定书",
    "bank_transfer_notice": "协助划拨社会保险费通知书",
    "collateral_demand": "提供担保通知书",
    "deferred_payment_agreement": "社会保险费延期缴纳协议",
    "court_application": "强制执行申请书",
    "fine_decision": "行政处罚决定书",
}
REFERRALS = {
    "inspection": ("检查", "社会保险费征缴检查通知书"),
    "audit": ("稽核", "提请社会保险稽核通知书"),
    "labour_supervision": ("劳动保障监察", "移送劳动保障监察通知书"),
}
WEEKDAYS = "一二三四五六日"
APPEAL = {"reconsideration_days": RECONSIDERATION_DAYS, "lawsuit_months": LAWSUIT_MONTHS}
REVIEW_OUTCOMES = {"upheld": "采纳", "partly": "部分采纳", "dismissed": "不予采纳"}
TRANSFER_RESULTS = {"full": "全额划拨", "partial": "部分划拨", "none": "未划拨"}


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class LetterDetails:
    """What an officer adds to a letter beyond the record (all optional, with office defaults)."""

    interview_at: str | None = None  # "2026-12-03 09:30"
    interview_place: str | None = None
    officer: str | None = None
    referral_type: str = "audit"
    referral_reason: str | None = None
    decision_basis: str | None = None
    instalments: int = 6
    collateral_description: str | None = None


@dataclass
class LetterContext:
    """Builds the template context of one document from the record."""

    agency: Any
    policy: Policy
    details: LetterDetails = field(default_factory=LetterDetails)

    def build(
        self,
        session: Session,
        *,
        facts: LetterFacts,
        notice: Notice,
        step: Step | None,
        document_type: str,
    ) -> dict[str, Any]:
        """``step`` is the ladder rung the letter belongs to; None for a letter of no rung (a
        fine's penalty decision)."""
        issued = notice.issued_on
        agency = self.agency
        context: dict[str, Any] = {
            "agency": agency_context(agency),
            "employer": {
                "name": facts.employer_name,
                "code": facts.employer_code,
                "address": facts.employer_address or "（地址不详）",
                "contact_name": facts.contact_name,
                "mobile": facts.mobile,
            },
            "notice": {
                "document_number": notice.document_number,
                "issue_date": chinese_date(issued),
                "deadline": None,  # clocks run from service, which is not known at printing
                "deadline_text": self._deadline_text(step) if step is not None else None,
                "title": TITLES[document_type],
            },
            "items": [
                {
                    "period": f"{item.period[:4]}年{item.period[5:]}月",
                    "insurance_label": INSURANCE_LABELS[item.insurance],
                    "kind_label": KIND_LABELS[item.kind],
                    "principal": format_grouped(item.principal),
                    "late_fee": format_grouped(item.late_fee),
                    "subtotal": format_grouped(item.principal + item.late_fee),
                }
                for item in facts.items
            ],
            "totals": {
                "principal": format_grouped(facts.principal),
                "late_fee": format_grouped(facts.late_fee),
                "total": format_grouped(facts.total),
                "total_capital": capital_yuan(facts.total),
            },
            "late_fee_as_of": chinese_date(issued),
            "appeal": dict(APPEAL),
        }
        extra = getattr(self, f"_{document_type}", None)
        if extra is not None:
            context.update(extra(session, facts, notice))
        digest = data_sha256(context)
        context["notice"]["data_sha256"] = digest
        context["notice"]["qr"] = qr_data_uri(f"{notice.document_number}|{digest}")
        return context

    def _deadline_text(self, step: Step) -> str | None:
        days = step.deadline_days
        if not days:
            return None
        unit = "个工作日" if days <= self.policy.working_day_limit else "日"
        return f"自收到本通知之日起{days}{unit}内"

    def _interview_notice(
        self, session: Session, facts: LetterFacts, notice: Notice
    ) -> dict[str, Any]:
        d = self.details
        if d.interview_at:
            when = _parse_when(d.interview_at)
        else:
            # Default: 09:30 on the fifth working day after issue, time enough for service.
            day = self.policy.calendar.add_working_days(notice.issued_on, 5)
            when = (day, "09:30")
        day, clock = when
        hour = int(clock[:2])
        half = "上午" if hour < 12 else "下午"
        shown = f"{hour if hour <= 12 else hour - 12}:{clock[3:]}"
        return {
            "interview": {
                "time": f"{chinese_date(day)}（星期{WEEKDAYS[day.weekday()]}）{half}{shown}",
                "place": d.interview_place or f"本机构约谈室（{self.agency.address}）",
                "officer": d.officer or "征缴专管员",
                "phone": self.agency.phone,
            }
        }

    def _inspection_referral(
        self, session: Session, facts: LetterFacts, notice: Notice
    ) -> dict[str, Any]:
        d = self.details
        if d.referral_type not in REFERRALS:
            raise NoticeError(
                f"unknown referral type {d.referral_type!r}: use one of {', '.join(REFERRALS)}"
            )
        label, title = REFERRALS[d.referral_type]
        body = {
            "inspection": self.agency.name,
            "audit": self.agency.audit_body,
            "labour_supervision": self.agency.labour_supervision_body,
        }[d.referral_type]
        return {
            "notice": {**_notice_of(notice), "title": title},
            "referral": {
                "type": d.referral_type,
                "type_label": label,
                "reason": d.referral_reason
                or "贵单位经本机构以短信、电话、书面通知及约谈等方式多次催缴，仍未缴清欠费，"
                "且未说明正当理由。",
                "receiving_body": body,
            },
        }

    def _forced_transfer_decision(
        self, session: Session, facts: LetterFacts, notice: Notice
    ) -> dict[str, Any]:
        if facts.bank_name is None or facts.account_number is None:
            raise NoticeError(
                "a forced transfer names the employer's bank account: record a bank-balance "
                "inquiry for the case first"
            )
        return {
            "transfer": {
                "bank_name": facts.bank_name,
                "account_number": facts.account_number,
                "amount": format_grouped(facts.total),
                "decision_basis": self.details.decision_basis or _approval_text(session, notice),
            }
        }

    _bank_transfer_notice = _forced_transfer_decision

    def _collateral_demand(
        self, session: Session, facts: LetterFacts, notice: Notice
    ) -> dict[str, Any]:
        if facts.balance is None:
            raise NoticeError(
                "a collateral demand states the account balance: record a bank-balance inquiry "
                "for the case first"
            )
        return {
            "collateral": {
                "balance": format_grouped(facts.balance),
                "shortfall": format_grouped(max(facts.total - facts.balance, 0)),
                "kinds": ["抵押", "质押"],
            }
        }

    def _deferred_payment_agreement(
        self, session: Session, facts: LetterFacts, notice: Notice
    ) -> dict[str, Any]:
        count = self.details.instalments
        if not 1 <= count <= 36:
            raise NoticeError("a deferred-payment agreement has 1 to 36 instalments")
        share, rest = divmod(facts.total, count)
        schedule = []
        for n in range(1, count + 1):
            due = _fifteenth_after(notice.issued_on, n)
            amount = share + (rest if n == count else 0)
            schedule.append((n, chinese_date(due), format_grouped(amount)))
        return {
            "agreement": {
                "instalments": schedule,
                "collateral_description": self.details.collateral_description
                or "以双方另行签订并依法登记的抵押或者质押合同所载财产为准",
                "default_clause_days": 15,
            }
        }

    def _court_application(
        self, session: Session, facts: LetterFacts, notice: Notice
    ) -> dict[str, Any]:
        demand = next(
            (n for n in facts.earlier if n.document_type == "enforcement_demand" and n.served_on),
            None,
        )
        if demand is None or demand.served_on is None:
            raise NoticeError(
                "a court application needs the enforcement demand (催告书) served first"
            )
        evidence = court_evidence(
            session, facts, notice, step_titles={s.kind: s.title for s in self.policy.steps}
        )
        return {
            "court": {
                "name": self.agency.court,
                "evidence": evidence or ["欠费明细及缴费记录"],
                "demand_served_on": chinese_date(demand.served_on),
            }
        }

    def _fine_decision(
        self, session: Session, facts: LetterFacts, notice: Notice
    ) -> dict[str, Any]:
        fine = session.execute(
            select(Fine).where(col(Fine.notice_id) == notice.id)
        ).scalar_one_or_none()
        if fine is None or fine.status != "imposed" or fine.decided_on is None:
            raise NoticeError(f"notice {notice.id} is the decision of no imposed fine")
        order = served_order(session, notice.case_id, self.policy, deadline_by=notice.issued_on)
        if order is None or order.notice.served_on is None:
            raise NoticeError("a fine decision names the order to pay served before it")
        multiple = Decimal(fine.multiple_pct) / 100
        return {
            "fine": {
                "arrears": format_grouped(fine.arrears_fen),
                "multiple": format(multiple.normalize(), "f"),
                "amount": format_grouped(fine.amount_fen),
                "amount_capital": capital_yuan(fine.amount_fen),
                "proposed_on": chinese_date(fine.proposed_on),
                "decided_on": chinese_date(fine.decided_on),
                "order_number": order.notice.document_number,
                "order_issued_on": chinese_date(order.notice.issued_on),
                "order_served_on": chinese_date(order.notice.served_on),
                "order_deadline": chinese_date(order.deadline),
                "payment_days": FINE_PAYMENT_DAYS,
            }
        }


def court_evidence(
    session: Session, facts: LetterFacts, notice: Notice, *, step_titles: Mapping[str, str]
) -> list[str]:
    """The evidence a court application lists, one entry per item, as of its issue date.

    Every notice of the case (document number, issue, service: day, method, receipt), the
    supervisors' approvals of enforcement steps (who, when), the employer's statement and defence
    and its review, the bank-balance inquiries and what the bank transferred.
    """
    as_of = notice.issued_on
    entries = []
    for n in facts.earlier:
        if n.document_number == notice.document_number:
            continue  # the application itself
        entry = f"《{TITLES.get(n.document_type, n.document_type)}》（{n.document_number}），"
        entry += f"{chinese_date(n.issued_on)}作出"
        if n.served_on:
            how = SERVICE_METHODS.get(n.service_method or "", "送达")
            entry += f"，{chinese_date(n.served_on)}{how}"
            if n.receipt_number:
                entry += f"，送达回证编号{n.receipt_number}"
        else:
            entry += "，未记录送达"
        entries.append(entry)
    approvals = session.execute(
        select(ApprovalRequest)
        .where(
            col(ApprovalRequest.case_id) == facts.case_id,
            col(ApprovalRequest.status) == "approved",
            col(ApprovalRequest.decided_on) <= as_of,
            col(ApprovalRequest.step).in_(list(step_titles)),
        )
        .order_by(col(ApprovalRequest.decided_on), col(ApprovalRequest.id))
    ).scalars()
    for a in approvals:
        assert a.decided_on is not None
        entries.append(
            f"{step_titles[a.step]}审批记录：{chinese_date(a.requested_on)}提请，"
            f"经{a.decided_by}于{chinese_date(a.decided_on)}批准"
        )
    statements = session.execute(
        select(EmployerStatement)
        .where(
            col(EmployerStatement.case_id) == facts.case_id,
            col(EmployerStatement.received_on) <= as_of,
        )
        .order_by(col(EmployerStatement.received_on), col(EmployerStatement.id))
    ).scalars()
    for st in statements:
        if st.kind == "none_made":
            entry = (
                f"被申请人在催告期限内未提出陈述、申辩的记录（{st.recorded_by}于"
                f"{chinese_date(st.received_on)}记录）"
            )
        else:
            entry = f"被申请人陈述、申辩记录：{chinese_date(st.received_on)}提出，{st.summary}"
            if st.reviewed_on is not None and st.review_outcome:
                verdict = REVIEW_OUTCOMES.get(st.review_outcome, st.review_outcome)
                entry += (
                    f"；复核意见：{verdict}（{st.reviewed_by}于{chinese_date(st.reviewed_on)}复核）"
                )
        entries.append(entry)
    inquiries = session.execute(
        select(BankInquiry)
        .where(col(BankInquiry.case_id) == facts.case_id, col(BankInquiry.inquired_on) <= as_of)
        .order_by(col(BankInquiry.inquired_on), col(BankInquiry.id))
    ).scalars()
    for q in inquiries:
        entries.append(
            f"存款账户查询结果：{q.bank_name}账号{q.account_number}，"
            f"{chinese_date(q.inquired_on)}查询余额人民币{format_grouped(q.balance_fen)}元"
        )
    transfers = session.execute(
        select(TransferExecution)
        .where(
            col(TransferExecution.case_id) == facts.case_id,
            col(TransferExecution.executed_on) <= as_of,
        )
        .order_by(col(TransferExecution.executed_on), col(TransferExecution.id))
    ).scalars()
    for t in transfers:
        entries.append(
            f"划拨执行结果：{t.bank_name}账号{t.account_number}，{chinese_date(t.executed_on)}"
            f"应划拨人民币{format_grouped(t.requested_fen)}元，实际划拨人民币"
            f"{format_grouped(t.amount_fen)}元（{TRANSFER_RESULTS.get(t.result, t.result)}，"
            f"银行流水号{t.reference}）"
        )
    return entries


def _notice_of(notice: Notice) -> dict[str, Any]:
    return {
        "document_number": notice.document_number,
        "issue_date": chinese_date(notice.issued_on),
        "deadline": None,
        "deadline_text": None,
    }


def _parse_when(text: str) -> tuple[date, str]:
    try:
        day_text, clock = text.strip().split()
        day = date.fromisoformat(day_text)
        hour, minute = (int(x) for x in clock.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise NoticeError(f"interview time {text!r}: write it as YYYY-MM-DD HH:MM") from None
    return day, f"{hour:02d}:{minute:02d}"


def _fifteenth_after(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 15)


def _approval_text(session: Session, notice: Notice) -> str:
    approval = session.execute(
        select(ApprovalRequest)
        .where(
            ApprovalRequest.case_id == notice.case_id,
            ApprovalRequest.step == notice.step,
            ApprovalRequest.status == "approved",
        )
        .order_by(col(ApprovalRequest.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if approval is None or approval.decided_on is None:
        return "本决定经本机构负责人批准。"
    return (
        f"本决定经本机构负责人（{approval.decided_by}）于{chinese_date(approval.decided_on)}批准。"
    )


def data_sha256(context: Mapping[str, Any]) -> str:
    """A hash of everything the letter states, so a printed copy can be checked against it."""
    canonical = json.dumps(context, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def qr_data_uri(payload: str) -> str:
    return segno.make(payload, error="m").svg_data_uri(border=0)
