"""Letters: what each one says (its context), rendered to HTML, printed to PDF, filed by hash.

Render and print are separate steps (``LetterRenderer`` makes HTML, ``PdfPrinter`` makes the PDF)
so that a letter's wording can be checked without a browser engine, and printing can be batched.

Document numbers are taken and committed before printing, so the sequence is locked for a moment,
not for the length of a render, and officers and the nightly run can issue side by side. A letter
whose printing fails stays on record as numbered; issuing it again prints it under the same
number, so the numbering never has a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from cases.decide import decide, judge
from cases.facts import build_facts, open_case_heads
from cases.models import Case, Notice
from cases.notices import (
    FINE_STEP,
    NoticeError,
    document_types,
    letter_facts,
    number_letter,
    plan_letter,
    record_printed,
    take_step,
)
from cases.policy import ENFORCEMENT_KINDS, Policy, Step
from notifications.documents import DocumentStore
from notifications.letter_context import (
    TITLES,
    LetterContext,
    LetterDetails,
    chinese_date,
)
from notifications.pdf import FontMissing, PdfPrinter, has_cjk_font


@dataclass(frozen=True)
class IssuedLetter:
    document_number: str
    document_type: str
    title: str
    sha256: str
    pages: int
    path: Path
    new: bool


class LetterRenderer:
    """Templates → HTML. Autoescaping is on: an employer's name is data, never markup."""

    def __init__(self, templates_dir: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(templates_dir),
            autoescape=select_autoescape(["html", "j2"], default=True),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, document_type: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(f"letters/{document_type}.html.j2").render(**context)


@dataclass
class LetterDesk:
    """Issues letters for a case: numbered, rendered, printed, filed and logged."""

    session: Session
    policy: Policy
    agency: Any
    renderer: LetterRenderer
    printer: PdfPrinter
    store: DocumentStore
    details: LetterDetails = field(default_factory=LetterDetails)

    def issue(
        self, *, case_id: int, step_kind: str, issued_on: date, actor: str
    ) -> list[IssuedLetter]:
        """An officer issues a step's letters now: planned, numbered, printed; the step taken."""
        step = self.policy.find(step_kind)
        if step is None or "letter" not in {step.channel, step.fallback_channel}:
            letters = [
                s.kind for s in self.policy.steps if "letter" in {s.channel, s.fallback_channel}
            ]
            raise NoticeError(
                f"{step_kind!r} is not a letter step: use one of {', '.join(letters)}"
            )
        case = self.session.get(Case, case_id)
        if case is None:
            raise NoticeError(f"no case {case_id}")
        if case.closed_on is not None:
            raise NoticeError(f"case {case_id} is closed ({case.status}); it takes no letters")
        if step.kind in ENFORCEMENT_KINDS:
            self._check_enforcement(case_id, step, issued_on)
        notices = self.plan(case_id=case_id, step=step, issued_on=issued_on)
        self.session.commit()
        issued = [self.print_notice(notice, actor=actor) for notice in notices]
        if any(letter.new for letter in issued):
            numbers = ", ".join(letter.document_number for letter in issued)
            take_step(
                self.session,
                case,
                step,
                on_date=issued_on,
                actor=actor,
                reason=f"letters issued: {numbers}",
                policy=self.policy,
            )
        return issued

    def plan(self, *, case_id: int, step: Step, issued_on: date) -> list[Notice]:
        """The step's letters as planned notices (once per day; unnumbered until printed)."""
        channel = "letter" if step.channel == "letter" else (step.fallback_channel or "")
        return [
            plan_letter(
                self.session,
                case_id=case_id,
                step=step,
                document_type=document_type,
                issued_on=issued_on,
            )[0]
            # Sorted, so two issuers taking several numbers lock the sequences in one order.
            for document_type in sorted(document_types(step, channel))
        ]

    def print_notice(self, notice: Notice, *, actor: str) -> IssuedLetter:
        """Number, render, print and file one planned letter (the filed copy if it exists)."""
        if notice.content_sha256 and self.store.has(notice.content_sha256):
            return self._issued(notice, new=False)
        document_type = notice.document_type or ""
        if document_type not in TITLES:
            raise NoticeError(f"notice {notice.id}: no letter template for {document_type!r}")
        # A fine's penalty decision is a letter of the case but no rung of the ladder.
        step = self.policy.find(notice.step)
        if step is None and notice.step != FINE_STEP:
            raise NoticeError(f"notice {notice.id}: {self.policy.label} has no {notice.step} step")
        number_letter(
            self.session,
            notice,
            prefix=self.agency.document_prefix + self.agency.document_codes[document_type],
        )
        # The number is committed at once: the sequence stays locked only for a moment, and a
        # letter that then fails to print keeps its number for the next attempt (no gap).
        self.session.commit()
        facts = letter_facts(
            self.session,
            case_id=notice.case_id,
            as_of=notice.issued_on,
            rules=self.policy.fee_rules,
        )
        context = LetterContext(self.agency, self.policy, self.details).build(
            self.session, facts=facts, notice=notice, step=step, document_type=document_type
        )
        printed = self.printer.print(self.renderer.render(document_type, context))
        if not has_cjk_font(printed.pdf):
            raise FontMissing(
                f"{notice.document_number} printed without a Chinese font; nothing was filed"
            )
        sha = self.store.put(printed.pdf)
        record_printed(
            self.session,
            notice,
            content_sha256=sha,
            data_sha256=context["notice"]["data_sha256"],
            pages=printed.pages,
            title=context["notice"]["title"],
            actor=actor,
        )
        return self._issued(notice, new=True)

    def _check_enforcement(self, case_id: int, step: Step, on: date) -> None:
        """Enforcement letters only when the procedure allows them that day, approval included."""
        heads = open_case_heads(self.session, [case_id])
        facts = build_facts(self.session, heads, as_of=on, rules=self.policy.fee_rules)[0]
        decision = decide(facts, on, self.policy)
        if decision.action == "take_step" and decision.step and decision.step.kind == step.kind:
            return
        own = judge(facts, on, self.policy, step.kind)
        if own.action == "take_step":
            # This rung is ready, but the ladder has a lower one to settle first.
            raise NoticeError(f"{step.label} cannot be issued on {on}: first {decision.reason}")
        raise NoticeError(f"{step.label} cannot be issued on {on}: {own.reason}")

    def _issued(self, notice: Notice, *, new: bool) -> IssuedLetter:
        assert notice.document_number and notice.content_sha256 and notice.document_type
        return IssuedLetter(
            document_number=notice.document_number,
            document_type=notice.document_type,
            title=TITLES[notice.document_type],
            sha256=notice.content_sha256,
            pages=notice.pages or 0,
            path=self.store.path(notice.content_sha256),
            new=new,
        )


# Re-exported: callers name the letter vocabulary through this module.
__all__ = [
    "TITLES",
    "IssuedLetter",
    "LetterDesk",
    "LetterDetails",
    "LetterRenderer",
    "chinese_date",
]
