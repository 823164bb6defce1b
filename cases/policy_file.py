"""Reading a policy file (``policies/*.toml``) into a :class:`~cases.policy.Policy`.

The file is validated as a whole: ``list_problems`` reports every problem so ``arrears policy
check`` can print them all; ``load_policy`` raises ``PolicyError`` carrying the same list. The
schema is documented in the header of the shipped ``tianjin-2016.toml``; the types and
vocabularies it is checked against are in ``cases.policy``, which re-exports both functions.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

from cases.policy import (
    AFTER_DEMAND_KINDS,
    ALLOCATION_TARGETS,
    ANCHOR_EVENTS,
    CHANNELS,
    ENFORCEMENT_KINDS,
    GUARD_FAIL_MODES,
    GUARD_TERMS,
    INSURANCES,
    STEP_KINDS,
    Allocation,
    Anchor,
    Guard,
    GuardSyntaxError,
    LateFee,
    Policy,
    PolicyError,
    Step,
    parse_guard,
)
from cases.workdays import WORKING_DAY_LIMIT, WorkCalendar

__all__ = ["list_problems", "load_policy"]

# fmt: off
_STEP_KEYS = frozenset({
    "level", "kind", "title", "channel", "templates", "officer_task", "day", "after", "on", "days",
    "deadline_days", "requires_service", "guards", "on_guard_fail", "requires_approval",
    "fallback_channel", "fallback_templates", "max_segments",
})
_TOP_KEYS = frozenset({
    "name", "version", "working_day_limit", "min_days_between_steps", "late_fee", "allocation",
    "steps",
})
# fmt: on


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
        guards = self.guards(table, where)
        fallback = table.get("fallback_channel")
        fallback_templates: tuple[str, ...] = ()
        if fallback is not None:
            if fallback not in CHANNELS or fallback == channel:
                self.fail(where, f"fallback_channel must be another channel of {list(CHANNELS)}")
            fallback_templates = self.templates(table.get("fallback_templates"), where)
        elif "fallback_templates" in table:
            self.fail(where, "fallback_templates belongs with fallback_channel")
        if any(g.on_fail == "fallback" for g in guards) and fallback is None:
            self.fail(where, 'a guard that falls back needs fallback_channel = "<channel>"')
        max_segments = None
        if "max_segments" in table:
            max_segments = self.count(table, "max_segments", where, None)
            if channel != "sms":
                self.fail(where, "max_segments applies to sms steps only")
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
            guards=guards,
            requires_approval=self.flag(table, "requires_approval", where, False),
            fallback_channel=fallback,
            fallback_templates=fallback_templates,
            max_segments=max_segments,
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
