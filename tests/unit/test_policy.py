from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from cases.decide import _TRUTHS
from cases.policy import (
    GUARD_TERMS,
    STEP_KINDS,
    Anchor,
    GuardSyntaxError,
    GuardTerm,
    PolicyError,
    default_policy_path,
    parse_guard,
)
from cases.policy_file import list_problems, load_policy

SHIPPED = default_policy_path()
SHIPPED_TEXT = SHIPPED.read_text(encoding="utf-8")


def shipped_templates() -> list[str]:
    data = tomllib.loads(SHIPPED_TEXT)
    return [name for step in data["steps"] for name in step["templates"]]


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    for name in shipped_templates():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    return root


def variant(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    """The shipped policy with one edit, so each test breaks exactly one thing."""
    assert SHIPPED_TEXT.count(old) >= count, old
    path = tmp_path / "variant.toml"
    path.write_text(SHIPPED_TEXT.replace(old, new, count), encoding="utf-8")
    return path


def problems_of(path: Path, templates_dir: Path) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy(path, templates_dir=templates_dir)
    assert caught.value.problems == tuple(list_problems(path, templates_dir=templates_dir))
    return str(caught.value)


def test_shipped_policy_loads(templates_dir: Path) -> None:
    policy = load_policy(SHIPPED, templates_dir=templates_dir)
    assert (policy.name, policy.version) == ("tianjin-2016", "2016.2")
    assert policy.label == "tianjin-2016 v2016.2"
    assert [s.level for s in policy.steps] == list(range(1, 11))
    assert tuple(s.kind for s in policy.steps) == STEP_KINDS
    assert policy.late_fee.daily_rate == Decimal("0.0005")
    assert policy.late_fee.cap_at_principal
    assert policy.allocation.order == ("principal", "late_fee")
    assert policy.allocation.insurances[0] == "pension"
    assert (policy.working_day_limit, policy.min_days_between_steps) == (10, 1)
    assert list_problems(SHIPPED, templates_dir=templates_dir) == []


def test_fee_and_allocation_settings_reach_the_ledger_rules(
    tmp_path: Path, templates_dir: Path
) -> None:
    shipped = load_policy(SHIPPED, templates_dir=templates_dir).fee_rules
    assert (shipped.daily_rate, shipped.cap_at_principal, shipped.principal_first) == (
        Decimal("0.0005"),
        True,
        True,
    )
    path = variant(
        tmp_path, 'order = ["principal", "late_fee"]', 'order = ["late_fee", "principal"]'
    )
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "cap_at_principal = true", "cap_at_principal = false"
        ),
        encoding="utf-8",
    )
    changed = load_policy(path, templates_dir=templates_dir).fee_rules
    assert (changed.cap_at_principal, changed.principal_first) == (False, False)


def test_shipped_ladder_matches_domain_table(templates_dir: Path) -> None:
    policy = load_policy(SHIPPED, templates_dir=templates_dir)
    days = {s.kind: s.day for s in policy.steps if s.day is not None}
    assert days == {
        "sms_reminder": 1,
        "phone_reminder": 7,
        "reminder_letter": 15,
        "interview": 30,
        "inspection_referral": 45,
        "order_to_pay": 60,
    }
    assert policy.step("order_to_pay").deadline_days == 10
    assert policy.step("enforcement_demand").after == (Anchor("order_to_pay", "deadline"),)
    assert policy.step("court_application").after == (
        Anchor("enforcement_demand", "served", 10),
        Anchor("enforcement_demand", "deadline"),
    )
    assert [s.level for s in policy.steps if s.requires_approval] == [8, 9, 10]
    assert policy.step("forced_transfer").templates == (
        "letters/forced_transfer_decision.html.j2",
        "letters/bank_transfer_notice.html.j2",
    )
    assert policy.step("sms_reminder").title == "短信催缴"
    modes = {g.text: g.on_fail for g in policy.step("forced_transfer").guards}
    assert modes == {
        "balance_known": "wait",
        "malicious or refusing": "skip",
        "balance_covers_debt": "skip",
    }


def test_every_guard_term_has_an_evaluator() -> None:
    assert set(_TRUTHS) == set(GUARD_TERMS)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("has_mobile", (GuardTerm("has_mobile"),)),
        ("not opted_out", (GuardTerm("opted_out", negated=True),)),
        (
            "malicious or not refusing",
            (GuardTerm("malicious"), GuardTerm("refusing", negated=True)),
        ),
    ],
)
def test_guard_syntax(text: str, terms: tuple[GuardTerm, ...]) -> None:
    assert parse_guard(text) == terms


@pytest.mark.parametrize("text", ["", "not", "a or", "a and b", "a b", "or a", "not not a", "a-b"])
def test_bad_guard_syntax(text: str) -> None:
    with pytest.raises(GuardSyntaxError):
        parse_guard(text)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('kind = "interview"', 'kind = "visit"', "rung 4 visit: unknown step kind 'visit'"),
        ("level = 5\n", "level = 4\n", "rung 4 inspection_referral: duplicate level 4"),
        (
            'kind = "interview"',
            'kind = "phone_reminder"',
            "rung 4 phone_reminder: duplicate kind 'phone_reminder'",
        ),
        ('channel = "sms"', 'channel = "fax"', "rung 1 sms_reminder: unknown channel 'fax'"),
        ('"has_mobile", ', '"has_phone", ', "rung 1 sms_reminder: unknown guard term 'has_phone'"),
        (
            '"uncooperative or no_response"',
            '"uncooperative and no_response"',
            "rung 4 interview: bad guard syntax",
        ),
        (
            'after = "order_to_pay"',
            'after = "order_to_py"',
            "rung 7 enforcement_demand: after names 'order_to_py', which is not a step",
        ),
        (
            'after = "order_to_pay"',
            'after = "forced_transfer"',
            "rung 7 enforcement_demand: after names rung 8 forced_transfer, which does not "
            "come earlier",
        ),
        ("day = 15", "day = 0", "rung 3 reminder_letter: day must be at least 1, not 0"),
        (
            "deadline_days = 5 ",
            "deadline_days = -5 ",
            "rung 3 reminder_letter: deadline_days must be at least 1, not -5",
        ),
        (
            'on = "served", days = 10 }',
            'on = "served", days = 0 }',
            "rung 10 court_application: days must be at least 1, not 0",
        ),
        ('name = "tianjin-2016"\n', "", "missing name"),
        ('version = "2016.2"', "version = 2016.2", "version must be text"),
        ('daily_rate = "0.0005"', "daily_rate = 0.0005", "bad late-fee rate 0.0005"),
        ('daily_rate = "0.0005"', 'daily_rate = "5%"', "bad late-fee rate '5%'"),
        ("min_days_between_steps = 1", "min_days_between_steps = 0", "at least 1"),
        ("day = 7\n", "", "rung 2 phone_reminder: give exactly one of day = N or after"),
        ('on = "deadline"\n', 'on = "sent"\n', "rung 7 enforcement_demand: on must be one of"),
        ('on_guard_fail = "wait"', 'on_guard_fail = "retry"', "on_guard_fail must be one of"),
        ("requires_approval = true", "requires_approval = 1", "requires_approval must be true"),
        ("day = 1\n", "day = 1\nfrequency = 2\n", "rung 1 sms_reminder: unknown key 'frequency'"),
    ],
)
def test_validation_names_the_step_and_reason(
    tmp_path: Path, templates_dir: Path, old: str, new: str, expected: str
) -> None:
    message = problems_of(variant(tmp_path, old, new), templates_dir)
    assert expected in message
    assert str(tmp_path / "variant.toml") in message


def test_missing_template_names_the_path(tmp_path: Path, templates_dir: Path) -> None:
    (templates_dir / "letters" / "order_to_pay.html.j2").unlink()
    message = problems_of(SHIPPED, templates_dir)
    assert "rung 6 order_to_pay: missing template file" in message
    assert str(templates_dir / "letters" / "order_to_pay.html.j2") in message


def test_template_outside_templates_dir_is_refused(tmp_path: Path, templates_dir: Path) -> None:
    path = variant(tmp_path, '"sms/sms_reminder.txt.j2"', '"../secrets.txt"')
    assert "must be a path inside templates/" in problems_of(path, templates_dir)


def test_after_a_step_without_deadline(tmp_path: Path, templates_dir: Path) -> None:
    path = variant(tmp_path, 'after = "order_to_pay"', 'after = "inspection_referral"')
    message = problems_of(path, templates_dir)
    assert "rung 7 enforcement_demand: after rung 5 inspection_referral deadline" in message


def test_after_a_skippable_step_is_refused(tmp_path: Path, templates_dir: Path) -> None:
    path = variant(
        tmp_path,
        '{ step = "enforcement_demand", on = "served"',
        '{ step = "interview", on = "served"',
    )
    message = problems_of(path, templates_dir)
    assert (
        "rung 10 court_application: after names rung 4 interview, which can be skipped" in message
    )


def test_enforcement_needs_a_served_order_to_pay(tmp_path: Path, templates_dir: Path) -> None:
    path = variant(tmp_path, "deadline_days = 10              # ≤", "# ≤")
    message = problems_of(path, templates_dir)
    assert "rung 6 order_to_pay: enforcement runs from this notice's service" in message


def test_every_problem_is_listed(tmp_path: Path, templates_dir: Path) -> None:
    text = SHIPPED_TEXT.replace('channel = "sms"', 'channel = "fax"').replace(
        'kind = "interview"', 'kind = "visit"'
    )
    path = tmp_path / "two.toml"
    path.write_text(text, encoding="utf-8")
    problems = list_problems(path, templates_dir=templates_dir)
    assert len(problems) == 3
    assert any("unknown channel 'fax'" in p for p in problems)
    assert any("max_segments applies to sms steps only" in p for p in problems)
    assert any("unknown step kind 'visit'" in p for p in problems)
    with pytest.raises(PolicyError, match=re.escape("3 problems:")):
        load_policy(path, templates_dir=templates_dir)


def test_unreadable_files(tmp_path: Path, templates_dir: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ", encoding="utf-8")
    assert "not valid TOML" in problems_of(broken, templates_dir)
    assert "cannot read" in problems_of(tmp_path / "absent.toml", templates_dir)
