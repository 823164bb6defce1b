"""SMS and voice texts, and the checks that keep a policy's texts sendable.

A policy that names a missing template, uses a variable the renderer does not provide, or writes
an SMS longer than its budget must fail when it is loaded — in the afternoon, when someone can
fix it — not at 01:30 in the middle of the nightly run. ``check_texts`` renders every template a
policy names with a worst-case sample (the longest names and amounts the office plausibly sees).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from cases import segments
from cases.policy import Policy

# Longest plausible values: a 30-character registered name and an eight-figure debt.
SAMPLE_NAME = "天津市滨海新区中新生态城某某国际供应链管理股份有限公司"[:30]
SAMPLE_AMOUNT = "99,999,999.99"


@dataclass(frozen=True)
class RenderedText:
    body: str
    segments: int
    encoding: str


def text_environment(templates_dir: Path, *, auto_reload: bool = True) -> Environment:
    """``auto_reload=False`` for an environment that lives one night: no file check per text."""
    # Text templates switch autoescaping off themselves; the default stays on so that a letter
    # template rendered through the same environment is always escaped.
    return Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=auto_reload,
    )


def render_text(env: Environment, template: str, context: Mapping[str, Any]) -> RenderedText:
    text = env.get_template(template).render(**context)
    if template.startswith("voice/"):
        # Spoken text keeps its paragraphs, read with a pause between them.
        body = "\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())
    else:
        body = " ".join(text.split())
    counted = segments.count(body)
    return RenderedText(body, counted.parts, counted.encoding)


def twiml_say(script: str, *, language: str = "cmn-CN") -> str:
    """TwiML that reads the script aloud in Mandarin, one <Say> per paragraph with a pause."""
    parts = [
        f'<Say language="{language}">{escape(paragraph)}</Say><Pause length="1"/>'
        for paragraph in script.split("\n")
        if paragraph.strip()
    ]
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(parts) + "</Response>"


AGENCY_FIELDS = (
    "name",
    "short_name",
    "address",
    "phone",
    "postcode",
    "seal_text",
    "bank_name",
    "bank_account",
    "reconsideration_body",
    "court",
)


def agency_context(agency: Any) -> dict[str, str]:
    """The office as every template sees it (``agency`` in the template contract)."""
    return {key: getattr(agency, key) for key in AGENCY_FIELDS}


def sample_context(agency: Any) -> dict[str, Any]:
    """Every name of the template contract (templates/letters/base.html.j2), at its longest."""
    row = {
        "period": "2026年08月",
        "insurance_label": "养老保险",
        "kind_label": "申报未缴",
        "principal": SAMPLE_AMOUNT,
        "late_fee": SAMPLE_AMOUNT,
        "subtotal": SAMPLE_AMOUNT,
    }
    return {
        "agency": agency_context(agency),
        "employer": {
            "name": SAMPLE_NAME,
            "code": "91120116MA05J8XU9P",
            "address": "天津市滨海新区中新天津生态城中天大道2018号生态科技园办公楼16号楼301室",
            "contact_name": "欧阳明轩",
            "mobile": "+8613812345678",
        },
        "notice": {
            "document_number": "津和社保限缴〔2026〕第000123号",
            "issue_date": "2026年11月26日",
            "deadline": "2026年12月10日",
            "deadline_text": "自收到本通知之日起10个工作日内",
            "title": "社会保险费限期缴纳通知书",
            "data_sha256": "0" * 64,
            "qr": "data:image/svg+xml;base64,PHN2Zy8+",
        },
        "items": [row, row],
        "totals": {
            "principal": SAMPLE_AMOUNT,
            "late_fee": SAMPLE_AMOUNT,
            "total": SAMPLE_AMOUNT,
            "total_capital": "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
        },
        "late_fee_as_of": "2026年11月26日",
        "appeal": {"reconsideration_days": 60, "lawsuit_months": 6},
        "interview": {
            "time": "2026年12月3日（星期四）下午2:30",
            "place": "本机构约谈室",
            "officer": "征缴专管员",
            "phone": agency.phone,
        },
        "referral": {
            "type": "audit",
            "type_label": "稽核",
            "reason": "贵单位经多次催缴仍未缴清欠费。",
            "receiving_body": agency.audit_body,
        },
        "transfer": {
            "bank_name": "中国银行天津和平支行",
            "account_number": "6216601234567890123",
            "amount": SAMPLE_AMOUNT,
            "decision_basis": "本决定经本机构负责人批准。",
        },
        "collateral": {
            "balance": SAMPLE_AMOUNT,
            "shortfall": SAMPLE_AMOUNT,
            "kinds": ["抵押", "质押"],
        },
        "agreement": {
            "instalments": [(1, "2026年12月15日", SAMPLE_AMOUNT)],
            "collateral_description": "房产抵押",
            "default_clause_days": 15,
        },
        "court": {
            "name": agency.court,
            "evidence": ["《催告书》（津和社保催告〔2026〕第000001号）"],
            "demand_served_on": "2026年11月2日",
        },
    }


def check_texts(policy: Policy, templates_dir: Path, agency: Any) -> list[str]:
    """Every problem with the texts a policy names, each naming the rung and the template."""
    env = text_environment(templates_dir)
    context = sample_context(agency)
    problems = []
    for step in policy.steps:
        names = [(step.channel, t) for t in step.templates]
        names += [(step.fallback_channel or "", t) for t in step.fallback_templates]
        for channel, name in names:
            where = f"{policy.source}: {step.label}: template {name}"
            try:
                if channel in {"sms", "voice", "officer_task"} and name.endswith(".txt.j2"):
                    rendered = render_text(env, name, context)
                else:
                    env.get_template(name).render(**context)
                    continue
            except TemplateError as exc:
                problems.append(f"{where}: {type(exc).__name__}: {exc}")
                continue
            if channel == "sms" and step.max_segments and rendered.segments > step.max_segments:
                problems.append(
                    f"{where}: renders to {rendered.segments} SMS parts "
                    f"({len(rendered.body)} characters, {rendered.encoding}) with a "
                    f"{len(SAMPLE_NAME)}-character employer name; the policy allows "
                    f"{step.max_segments}"
                )
    return problems
