"""The policy's texts are checked when it loads: templates, variables, SMS length."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from arrears.settings import REPO_ROOT, Agency
from cases.policy_file import load_policy
from notifications.texts import (
    check_texts,
    render_text,
    sample_context,
    text_environment,
    twiml_say,
)

SHIPPED = REPO_ROOT / "cases" / "policies" / "tianjin-2016.toml"


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", target)
    return target


def policy_with(tmp_path: Path, templates: Path, old: str = "", new: str = ""):  # type: ignore[no-untyped-def]
    text = SHIPPED.read_text(encoding="utf-8")
    if old:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path, templates_dir=templates)


def test_shipped_texts_pass(tmp_path: Path, templates: Path) -> None:
    assert check_texts(policy_with(tmp_path, templates), templates, Agency()) == []


def test_unknown_variable_fails_naming_step_and_template(tmp_path: Path, templates: Path) -> None:
    sms = templates / "sms" / "sms_reminder.txt.j2"
    sms.write_text(
        sms.read_text(encoding="utf-8").replace("{{ employer.name }}", "{{ employer.nmae }}"),
        encoding="utf-8",
    )
    problems = check_texts(policy_with(tmp_path, templates), templates, Agency())
    assert len(problems) == 1
    assert "rung 1 sms_reminder: template sms/sms_reminder.txt.j2" in problems[0]
    assert "nmae" in problems[0]


def test_letter_template_with_a_typo_fails(tmp_path: Path, templates: Path) -> None:
    letter = templates / "letters" / "order_to_pay.html.j2"
    text = letter.read_text(encoding="utf-8")
    letter.write_text(
        text.replace("{% block body %}", "{% block body %}{{ totals.grand_total }}", 1),
        encoding="utf-8",
    )
    problems = check_texts(policy_with(tmp_path, templates), templates, Agency())
    assert any("rung 6 order_to_pay" in p and "grand_total" in p for p in problems)


def test_sms_over_its_segment_budget_fails(tmp_path: Path, templates: Path) -> None:
    policy = policy_with(tmp_path, templates, "max_segments = 2", "max_segments = 1")
    (problem,) = check_texts(policy, templates, Agency())
    assert "renders to 2 SMS parts" in problem and "UCS-2" in problem and "allows 1" in problem


def test_sms_renders_to_one_line_and_counts_parts(templates: Path) -> None:
    rendered = render_text(
        text_environment(templates), "sms/sms_reminder.txt.j2", sample_context(Agency())
    )
    assert "\n" not in rendered.body
    assert rendered.body.startswith("【和平社保】")
    assert rendered.encoding == "UCS-2" and rendered.segments == 2
    assert "&amp;" not in rendered.body


def test_twiml_reads_mandarin_and_escapes() -> None:
    twiml = twiml_say("天津A&B公司<欠费>\n请缴费")
    assert twiml.count('<Say language="cmn-CN">') == 2
    assert "A&amp;B" in twiml and "&lt;欠费&gt;" in twiml
