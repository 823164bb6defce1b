"""The escalation ladder as data: policy types, the guard language, and the policy-file loader.

A policy file (``policies/*.toml``, schema in the shipped ``tianjin-2016.toml`` header) is
validated as a whole: ``list_problems`` reports every problem so ``arrears policy check`` can
print them all; ``load_policy`` raises ``PolicyError`` carrying the same list. The decision that
walks the ladder lives in ``cases.decide``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

from cases.ledger import FeeRules
from cases.workdays import WORKING_DAY_LIMIT, WorkCalendar

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
GUARD_FAIL_MODES: tuple[str, ...] = ("skip", "wait")
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
    "was issued",
}

# fmt: off
_STEP_KEYS = frozenset({
    "level", "kind", "title", "channel", "templates", "officer_task", "day", "after", "on", "days",
    "deadline_days", "requires_service", "guards", "on_guard_fail", "requires_approval",
})
_TOP_KEYS = frozenset({
    "name", "version", "working_day_limit", "min_days_between_steps", "late_fee", "allocation",
    "steps",
})
# fmt: on


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


def list_problems(path: Path, *, templates_dir: Path) -> list[str]:
    """Every problem in the policy file; empty when it loads."""
    return _Reader(path, templates_dir).read()[1]


def load_policy(path: Path, *, templates_dir: Path, calendar: WorkCalendar | None = None) -> Policy:
    build, problems = _Reader(path, templates_dir).read()
    if problems or build is None:
        raise PolicyError(problems)
    return build(calendar=calendar if calendar is not None else WorkCalendar())


class _Reader:
    """Reads a policy file, collecting problems instead of stopping at the first."""

    def __init__(self, path: Path, templates_dir: Path) -> None:
        self.path = path
        self.templates_dir = templates_dir
        self.problems: list[str] = []

    def fail(self, where: str, reason: str) -> None:
        self.problems.append(
            f"{self.path}: {where}: {reason}" if where else f"{self.path}: {reason}"
        )

    def read(self) -> tuple[partial[Policy] | None, list[str]]:
        """A Policy waiting only for its calendar (None when unreadable), and the problems."""
        try:
            with self.path.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            self.fail("", f"cannot read: {exc.strerror or exc}")
            return None, self.problems
        except tomllib.TOMLDecodeError as exc:
            self.fail("", f"not valid TOML: {exc}")
            return None, self.problems
        for key in sorted(set(data) - _TOP_KEYS):
            self.fail("", f"unknown key '{key}'")
        build = partial(
            Policy,
            name=self.text(data, "name", ""),
            version=self.text(data, "version", ""),
            source=self.path,
            working_day_limit=self.count(data, "working_day_limit", "", WORKING_DAY_LIMIT),
            min_days_between_steps=self.count(data, "min_days_between_steps", "", 1),
            late_fee=self.late_fee(data.get("late_fee")),
            allocation=self.allocation(data.get("allocation")),
            steps=self.steps(data.get("steps")),
        )
        # Several rungs can trip over the same faulty one; say it once.
        return build, list(dict.fromkeys(self.problems))

    # -- scalar helpers: report and return a harmless default so reading can go on

    def text(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"missing {key}" if value is None else f"{key} must be text")
            return ""
        return value

    def count(self, table: Mapping[str, Any], key: str, where: str, default: int | None) -> int:
        """A whole number of days (or a level): at least 1."""
        value = table.get(key, default)
        if value is None:
            self.fail(where, f"missing {key}")
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"{key} must be a whole number, not {value!r}")
            return 0
        if value < 1:
            self.fail(where, f"{key} must be at least 1, not {value}")
        return value

    def flag(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.fail(where, f"{key} must be true or false, not {value!r}")
            return default
        return value

    def late_fee(self, table: Any) -> LateFee:
        if not isinstance(table, dict):
            self.fail("", "missing [late_fee] table")
            return LateFee(Decimal(0), True)
        rate = table.get("daily_rate")
        try:
            # A float would already have lost the exact rate, so only text is accepted.
            parsed = Decimal(rate) if isinstance(rate, str) else None
        except InvalidOperation:
            parsed = None
        if parsed is None or not parsed.is_finite() or not Decimal(0) < parsed < Decimal(1):
            self.fail(
                "[late_fee]",
                f"bad late-fee rate {rate!r}: write a daily rate between 0 and 1 as text, "
                'e.g. daily_rate = "0.0005"',
            )
            parsed = Decimal(0)
        return LateFee(parsed, self.flag(table, "cap_at_principal", "[late_fee]", True))

    def allocation(self, table: Any) -> Allocation:
        if not isinstance(table, dict):
            self.fail("", "missing [allocation] table")
            return Allocation(ALLOCATION_TARGETS, INSURANCES)
        return Allocation(
            self.permutation(table, "order", ALLOCATION_TARGETS),
            self.permutation(table, "insurances", INSURANCES),
        )

    def permutation(
        self, table: Mapping[str, Any], key: str, allowed: tuple[str, ...]
    ) -> tuple[str, ...]:
        value = table.get(key, list(allowed))
        if not isinstance(value, list) or sorted(map(str, value)) != sorted(allowed):
            self.fail(
                "[allocation]", f"{key} must list each of {list(allowed)} once, not {value!r}"
            )
            return allowed
        return tuple(value)

    # -- steps

    def steps(self, tables: Any) -> tuple[Step, ...]:
        if not isinstance(tables, list) or not tables:
            self.fail("", "no [[steps]]")
            return ()
        steps: list[Step] = []
        for index, table in enumerate(tables, 1):
            if not isinstance(table, dict):
                self.fail(f"step #{index}", "must be a table")
                continue
            steps.append(self.step(table, index))
        self.check_unique(steps)
        steps.sort(key=lambda s: s.level)
        self.check_references(steps)
        self.check_legal_order(steps)
        return tuple(steps)

    def step(self, table: Mapping[str, Any], index: int) -> Step:
        level, kind = table.get("level"), table.get("kind")
        where = (
            f"rung {level} {kind}" if level is not None and kind is not None else f"step #{index}"
        )
        for key in sorted(set(table) - _STEP_KEYS):
            self.fail(where, f"unknown key '{key}'")
        level_n = self.count(table, "level", where, None)
        kind_s = self.text(table, "kind", where)
        if kind_s and kind_s not in STEP_KINDS:
            self.fail(where, f"unknown step kind '{kind_s}' (known: {', '.join(STEP_KINDS)})")
        channel = self.text(table, "channel", where)
        if channel and channel not in CHANNELS:
            self.fail(where, f"unknown channel '{channel}' (known: {', '.join(CHANNELS)})")
        day, after = self.timing(table, where)
        deadline_days = (
            self.count(table, "deadline_days", where, None) if "deadline_days" in table else None
        )
        return Step(
            level=level_n,
            kind=kind_s,
            title=self.text(table, "title", where),
            channel=channel,
            templates=self.templates(table.get("templates"), where),
            officer_task=self.flag(table, "officer_task", where, False),
            day=day,
            after=after,
            deadline_days=deadline_days,
            requires_service=self.flag(table, "requires_service", where, False),
            guards=self.guards(table, where),
            requires_approval=self.flag(table, "requires_approval", where, False),
        )

    def templates(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.fail(where, "templates must be a non-empty list of paths under templates/")
            return ()
        if not self.templates_dir.is_dir():
            self.fail("", f"templates folder {self.templates_dir} not found")
            return tuple(value)
        for name in value:
            relative = Path(name)
            if relative.is_absolute() or ".." in relative.parts:
                self.fail(where, f"template {name} must be a path inside templates/")
            elif not (self.templates_dir / relative).is_file():
                self.fail(where, f"missing template file {self.templates_dir / relative}")
        return tuple(value)

    def timing(self, table: Mapping[str, Any], where: str) -> tuple[int | None, tuple[Anchor, ...]]:
        has_day, after = "day" in table, table.get("after")
        if has_day == (after is not None):
            self.fail(where, 'give exactly one of day = N or after = "<step kind>"')
        day = self.count(table, "day", where, None) if has_day else None
        if after is None or isinstance(after, list):
            for key in ("on", "days"):
                if key in table:
                    self.fail(where, f"'{key}' belongs with after = \"<step kind>\"")
            entries = after or []
        else:
            entries = [{k: table[k] for k in ("on", "days") if k in table} | {"step": after}]
        anchors = []
        for entry in entries:
            if not isinstance(entry, dict) or set(entry) - {"step", "on", "days"}:
                self.fail(where, f"after entries are {{ step, on, days }}, not {entry!r}")
                continue
            on = entry.get("on")
            if on not in ANCHOR_EVENTS:
                self.fail(where, f"on must be one of {list(ANCHOR_EVENTS)}, not {on!r}")
            step = self.text(entry, "step", where)
            days = self.count(entry, "days", where, None) if "days" in entry else 0
            anchors.append(Anchor(step, str(on), days))
        return day, tuple(anchors)

    def guards(self, table: Mapping[str, Any], where: str) -> tuple[Guard, ...]:
        default = table.get("on_guard_fail", "skip")
        if default not in GUARD_FAIL_MODES:
            self.fail(
                where, f"on_guard_fail must be one of {list(GUARD_FAIL_MODES)}, not {default!r}"
            )
            default = "skip"
        entries = table.get("guards", [])
        if not isinstance(entries, list):
            self.fail(where, "guards must be a list")
            return ()
        guards = []
        for entry in entries:
            text, on_fail = entry, default
            if isinstance(entry, dict):
                text, on_fail = entry.get("when"), entry.get("on_fail", default)
                if set(entry) - {"when", "on_fail"} or on_fail not in GUARD_FAIL_MODES:
                    self.fail(where, f"bad guard syntax {entry!r}: use {{ when, on_fail }}")
                    continue
            if not isinstance(text, str):
                self.fail(where, f"bad guard syntax {entry!r}: a guard is text")
                continue
            try:
                terms = parse_guard(text)
            except GuardSyntaxError as exc:
                self.fail(where, f"bad guard syntax {exc}")
                continue
            for term in terms:
                if term.name not in GUARD_TERMS:
                    self.fail(
                        where, f"unknown guard term '{term.name}' (known: {', '.join(GUARD_TERMS)})"
                    )
            guards.append(Guard(text, terms, str(on_fail)))
        return tuple(guards)

    def check_unique(self, steps: list[Step]) -> None:
        for attr in ("level", "kind"):
            seen: dict[object, Step] = {}
            for s in steps:
                value = getattr(s, attr)
                if value in seen and value not in (0, ""):
                    self.fail(s.label, f"duplicate {attr} {value!r} (also {seen[value].label})")
                seen.setdefault(value, s)

    def check_references(self, steps: list[Step]) -> None:
        by_kind = {s.kind: s for s in steps}
        for s in steps:
            for anchor in s.after:
                target = by_kind.get(anchor.step)
                if target is None:
                    self.fail(s.label, f"after names '{anchor.step}', which is not a step")
                elif target.level >= s.level:
                    self.fail(s.label, f"after names {target.label}, which does not come earlier")
                elif anchor.on == "deadline" and target.deadline_days is None:
                    self.fail(s.label, f"after {target.label} deadline, which has no deadline_days")
                elif target.can_be_skipped:
                    self.fail(
                        s.label,
                        f"after names {target.label}, which can be skipped, "
                        "so this rung could wait for ever",
                    )

    def check_legal_order(self, steps: list[Step]) -> None:
        by_kind = {s.kind: s for s in steps}
        for s in steps:
            needs = ["order_to_pay"] if s.kind in ENFORCEMENT_KINDS else []
            needs += ["enforcement_demand"] if s.kind in AFTER_DEMAND_KINDS else []
            for kind in needs:
                prior = by_kind.get(kind)
                if prior is None or prior.level >= s.level:
                    self.fail(s.label, f"enforcement needs a {kind} rung below it")
                elif prior.deadline_days is None or not prior.requires_service:
                    self.fail(
                        prior.label,
                        "enforcement runs from this notice's service and "
                        "deadline: give it deadline_days and requires_service = true",
                    )
