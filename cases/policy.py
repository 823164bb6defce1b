"""The escalation ladder as data: policy types, their vocabularies, and the guard language.

A policy file (``policies/*.toml``, schema in the shipped ``tianjin-2016.toml`` header) is read and
validated by ``cases.policy_file``; its ``load_policy`` and ``list_problems`` are re-exported here
(lazily, see the end of this module). The decision that walks the ladder lives in
``cases.decide``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from cases.ledger import FeeRules
from cases.workdays import WorkCalendar

# Ladder order; the vocabulary is closed because code attaches meaning (templates, legal floors,
# officer worklists) to each kind.
STEP_KINDS: tuple[str, ...] = (
    "sms_reminder",
    "phone_reminder",
    "reminder_letter",
    "interview",
    "inspection_referral",
    "order_to_pay",
    "enforcement_demand",
    "forced_transfer",
    "collateral_demand",
    "court_application",
)
# Rungs the law lets the agency take only after the order to pay's limit has run
# (Social Insurance Law art. 63)...
ENFORCEMENT_KINDS = frozenset(
    {"enforcement_demand", "forced_transfer", "collateral_demand", "court_application"}
)
# ...and these only after a written demand's deadline (Administrative Compulsion Law art. 35/37).
AFTER_DEMAND_KINDS = frozenset({"forced_transfer", "collateral_demand", "court_application"})

CHANNELS: tuple[str, ...] = ("sms", "voice", "officer_task", "letter")
ANCHOR_EVENTS: tuple[str, ...] = ("served", "deadline")
# skip: pass the rung over; wait: stay on it; fallback: take it by the step's fallback channel.
GUARD_FAIL_MODES: tuple[str, ...] = ("skip", "wait", "fallback")
ALLOCATION_TARGETS: tuple[str, ...] = ("principal", "late_fee")
INSURANCES: tuple[str, ...] = ("pension", "medical", "work_injury", "unemployment", "maternity")

# The guard vocabulary, term -> meaning (evaluated in cases.decide). In a policy file a guard
# list ANDs its entries; an entry is "term", "not term", or alternatives joined by " or ".
GUARD_TERMS: Mapping[str, str] = {
    "has_mobile": "the employer's contact has a mobile number on file",
    "opted_out": "the employer asked not to receive SMS reminders",
    "uncooperative": "an officer marked the employer uncooperative (不配合)",
    "malicious": "an officer marked the arrears malicious (恶意欠费)",
    "no_response": "no response (call reached, promise, payment, interview attended) recorded on "
    "or after the day of the first step taken",
    "refusing": "the enforcement demand's deadline has passed and the debt is not paid in full "
    "(拒不还欠)",
    "balance_known": "a bank-balance inquiry result is on file",
    "balance_covers_debt": "the latest bank balance is at least the total due",
    "balance_short": "the latest bank balance is less than the total due",
    "collateral_provided": "the employer provided a mortgage or pledge (抵押、质押)",
    "no_payment_since_demand": "no payment recorded on or after the day the enforcement demand "
    "was issued (after a broken deferred-payment agreement: after the missed instalment's due "
    "day)",
}


class PolicyError(ValueError):
    """A policy file that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(
                f"- {p}" for p in self.problems
            )
        super().__init__(message)


class GuardSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class GuardTerm:
    name: str
    negated: bool = False

    def __str__(self) -> str:
        return f"not {self.name}" if self.negated else self.name


@dataclass(frozen=True)
class Guard:
    """One entry of a step's guard list: passes when any of its terms holds."""

    text: str
    terms: tuple[GuardTerm, ...]
    on_fail: str  # "skip" | "wait"


@dataclass(frozen=True)
class Anchor:
    """A step is due once ``step`` was served / its deadline passed, plus ``days`` more."""

    step: str
    on: str  # "served" | "deadline"
    days: int = 0


@dataclass(frozen=True)
class Step:
    level: int
    kind: str
    title: str
    channel: str
    templates: tuple[str, ...]
    officer_task: bool = False
    day: int | None = None
    after: tuple[Anchor, ...] = ()
    deadline_days: int | None = None
    requires_service: bool = False
    guards: tuple[Guard, ...] = ()
    requires_approval: bool = False
    # When a "fallback" guard fails (no mobile, opted out), the rung is taken on this channel.
    fallback_channel: str | None = None
    fallback_templates: tuple[str, ...] = ()
    max_segments: int | None = None  # SMS parts a rendered text may cost

    def templates_for(self, channel: str) -> tuple[str, ...]:
        return self.fallback_templates if channel == self.fallback_channel else self.templates

    @property
    def label(self) -> str:
        return f"rung {self.level} {self.kind}"

    @property
    def can_be_skipped(self) -> bool:
        return any(g.on_fail == "skip" for g in self.guards)


@dataclass(frozen=True)
class LateFee:
    daily_rate: Decimal
    cap_at_principal: bool


@dataclass(frozen=True)
class Allocation:
    order: tuple[str, ...]
    insurances: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    source: Path
    working_day_limit: int
    min_days_between_steps: int
    late_fee: LateFee
    allocation: Allocation
    steps: tuple[Step, ...]  # ascending level
    calendar: WorkCalendar = field(compare=False)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def fee_rules(self) -> FeeRules:
        return FeeRules(
            daily_rate=self.late_fee.daily_rate,
            cap_at_principal=self.late_fee.cap_at_principal,
            insurance_order=self.allocation.insurances,
            principal_first=self.allocation.order[0] == "principal",
        )

    def find(self, kind: str) -> Step | None:
        return next((s for s in self.steps if s.kind == kind), None)

    def step(self, kind: str) -> Step:
        found = self.find(kind)
        if found is None:
            raise KeyError(f"{self.label} has no {kind} step")
        return found

    def deadline(self, start: date, days: int) -> date:
        return self.calendar.deadline(start, days, working_day_limit=self.working_day_limit)


def default_policy_path() -> Path:
    return Path(__file__).parent / "policies" / "tianjin-2016.toml"


def default_templates_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "templates"


def parse_guard(text: str) -> tuple[GuardTerm, ...]:
    """``"uncooperative or not has_mobile"`` -> terms; AND is expressed by list entries."""
    words = text.split()
    if not words:
        raise GuardSyntaxError("empty guard")
    terms: list[GuardTerm] = []
    i = 0
    while True:
        negated = i < len(words) and words[i] == "not"
        i += negated
        if i == len(words):
            raise GuardSyntaxError(f"'{text}' ends without a condition")
        word = words[i]
        if word in ("not", "or", "and") or not word.isidentifier():
            raise GuardSyntaxError(f"'{text}': expected a condition, found '{word}'")
        terms.append(GuardTerm(word, negated))
        i += 1
        if i == len(words):
            return tuple(terms)
        if words[i] != "or":
            raise GuardSyntaxError(
                f"'{text}': expected 'or' after '{word}', found '{words[i]}' "
                "(write AND as separate list entries)"
            )
        i += 1
