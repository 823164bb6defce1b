"""Benchmark: one night's escalation over 100,000 open cases, against the bare I/O it needs.

Run from the repository root:

    .venv/bin/python bench/nightly.py [--cases 100000] [--backend sqlite|postgres|both]
        [--pg-url URL] [--prefect yes|no] [--profile auto|always|never]

For each backend this builds one store of open cases spread along the ladder (bulk inserts, not
the importer), so that about a tenth of them take a step tonight, most of those an SMS. Then it
runs, each in its own child process on its own copy of the store:

* **yesterday** (not measured): every case decided as of yesterday, its review date stored, and
  yesterday's run recorded, as the night before would have left the store;
* **decide**: a dry run of ``cases.facts.decisions`` over the cases due for review, which must
  take exactly the steps built for;
* **ours**: the nightly pass without letters: ``Escalation.plan`` and ``Escalation.send`` district
  by district, in order, as the flow's district task does (minus ``print_letters``), with the real
  ``TwilioTransport`` sending to the local fake Twilio server (its own process, no rate limit);
* **baseline**: the same I/O by hand: one SELECT of the due cases, one executemany of one event
  row per case, one form POST per SMS over bare ``http.client`` keep-alive connections, as many
  in flight at once as ours keeps (``ARREARS_SMS_CONCURRENCY``, default 4); three runs, the
  median counts;
* **prefect** (``--prefect yes``): the Prefect flow ``nightly_escalation`` once, in ephemeral
  mode, letters again left out; its start-up is timed apart and it is not part of the ratio;
* **profile**: ours again under cProfile, when a target is missed (``--profile auto``).

The fake server's own record is read after every run: it must have seen exactly one POST per SMS
due. A benchmark reports, it does not gate: the exit status is non-zero only when something failed
outright (the population is not what was built, a run failed, an SMS went missing or twice).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import pstats
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `python bench/nightly.py` puts bench/ first, not the root

AS_OF = date(2026, 11, 26)  # tonight
SEED = 2016
TARGET_RATIO = 3.0
TARGET_SECONDS = 120.0
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FROM_NUMBER = "+15005550006"
CONCURRENCY = [4]  # requests in flight, ours and the baseline's (--concurrency)
CHILD_FLAG = "--child"  # internal: this script re-runs itself for each measured run
RESULT_PREFIX = "BENCH-RESULT "  # the child's answer: one line of JSON after this prefix


# --------------------------------------------------------------------------------------------
# The population: where the cases stand on the ladder tonight
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """Cases that stand alike tonight.

    Day N counts from the first overdue date (day 1 is that date, as ``decide`` counts), so a
    case on day N has ``first_overdue_on = AS_OF - (N - 1)``. ``taken`` lists the steps already
    on record, with the day each was taken; ``due`` is the step ``decide`` must take tonight, by
    ``channel`` (None: nothing is due, the case waits).
    """

    name: str
    days: tuple[int, int]  # tonight is a day in this range (inclusive)
    taken: tuple[tuple[str, int], ...]
    due: str | None
    channel: str | None
    share: float  # of the due cases, or of the waiting ones
    mobile: bool = True


SMS = (("sms_reminder", 1),)
CALLED = (*SMS, ("phone_reminder", 7))
LETTER = (*CALLED, ("reminder_letter", 15))
INTERVIEW = (*LETTER, ("interview", 30))
ORDER = (*INTERVIEW, ("order_to_pay", 60))

DUE_COHORTS = (
    Cohort("new case: SMS reminder", (1, 1), (), "sms_reminder", "sms", 0.80),
    Cohort(
        "new case, no mobile: reminder by letter",
        (1, 1),
        (),
        "sms_reminder",
        "letter",
        0.02,
        mobile=False,
    ),
    Cohort("day 7: phone call (officer task)", (7, 7), SMS, "phone_reminder", "officer_task", 0.10),
    Cohort("day 15: reminder letter", (15, 15), CALLED, "reminder_letter", "letter", 0.03),
    Cohort("day 30: interview notice", (30, 30), LETTER, "interview", "letter", 0.03),
    Cohort("day 60: order to pay", (60, 60), INTERVIEW, "order_to_pay", "letter", 0.02),
)
# Waiting: the next rung's day has not come (days 45-59 pass the inspection rung over, since no
# case is marked uncooperative), or the order to pay awaits service.
WAITING_COHORTS = (
    Cohort("SMS sent, call due day 7", (2, 6), SMS, None, None, 0.25),
    Cohort("called, letter due day 15", (8, 14), CALLED, None, None, 0.25),
    Cohort("letter issued, interview due day 30", (16, 29), LETTER, None, None, 0.20),
    Cohort("interview issued, order due day 60", (31, 59), INTERVIEW, None, None, 0.15),
    Cohort("order to pay issued, not yet served", (61, 180), ORDER, None, None, 0.15),
)
# The baseline's hand-written rule, the ladder's day timing as SQL: a case at stage S is due once
# it reaches day D. It picks exactly the due cohorts above (and none of the waiting ones).
BASELINE_DUE_RULE = ((0, 1), (1, 7), (2, 15), (3, 30), (4, 60))
STAGE_STEP = {
    0: "sms_reminder",
    1: "phone_reminder",
    2: "reminder_letter",
    3: "interview",
    4: "order_to_pay",
}

TRADE_CHARS = "华宏鑫达盛隆泰恒瑞丰源昌兴利安通信诚德金海港津滨新远航博晟嘉"
INDUSTRIES = [
    "科技",
    "贸易",
    "物流",
    "建筑",
    "餐饮",
    "机械",
    "电子",
    "商贸",
    "实业",
    "医药",
    "印务",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def split(total: int, cohorts: Sequence[Cohort]) -> list[int]:
    """``total`` cases over ``cohorts`` by share; the rounding remainder goes to the first."""
    counts = [round(total * c.share) for c in cohorts]
    counts[0] += total - sum(counts)
    return counts


@dataclass
class Population:
    cases: int
    due: int
    sms: int
    expected: Counter[tuple[str, str]]  # (step, channel) -> cases that take it tonight
    cohorts: list[tuple[str, int]]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def build_population(
    settings: Any, *, cases: int, due_share: float, items_per_case: int, seed: int
) -> Population:
    """Migrate a fresh store and bulk-insert the cases (``cases.bulk``), in one transaction."""
    from stdnum.cn import uscc

    from arrears.sample import TIANJIN_DISTRICTS
    from arrears.wiring import App
    from cases import eventlog
    from cases.bulk import insert_returning, insert_rows
    from cases.models import (
        ArrearsItem,
        Case,
        CaseEvent,
        DocumentSequence,
        Employer,
        Notice,
        utcnow,
    )
    from cases.notices import document_types
    from cases.numbering import format_number

    started = time.perf_counter()
    app = App(settings)
    app.init_db()
    policy = app.policy
    agency = settings.agency
    rng = random.Random(seed)
    now = utcnow()

    due = round(cases * due_share)
    plan: list[Cohort] = []
    for group, total in ((DUE_COHORTS, due), (WAITING_COHORTS, cases - due)):
        for cohort, n in zip(group, split(total, group), strict=True):
            plan += [cohort] * n
    rng.shuffle(plan)

    employers, case_rows, firsts = [], [], []
    for i, cohort in enumerate(plan):
        district, division = rng.choice(TIANJIN_DISTRICTS)
        stem = f"91{division}{i:09d}"
        trade = "".join(rng.sample(TRADE_CHARS, 2))
        employers.append(
            {
                "code": stem + uscc.calc_check_digit(stem),
                "name": f"天津{trade}{rng.choice(INDUSTRIES)}有限公司",
                "district": district,
                "contact_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                "mobile": f"+86139{i:08d}" if cohort.mobile else None,
                "address": f"天津市{district}友谊路{rng.randint(1, 999)}号",
                "sms_opted_out": False,
                "created_at": now,
                "updated_at": now,
            }
        )
        first = AS_OF - timedelta(days=rng.randint(*cohort.days) - 1)
        firsts.append(first)
        top = max(
            (policy.step(kind) for kind, _ in cohort.taken), key=lambda s: s.level, default=None
        )
        case_rows.append(
            {
                "status": "open",
                "stage": top.level if top else 0,
                "stage_step": top.kind if top else None,
                "opened_on": first,
                "closed_on": None,
                "first_overdue_on": first,
                "policy_name": policy.name,
                "policy_version": policy.version,
                "officer_id": None,
                "uncooperative": False,
                "malicious": False,
                "created_at": now,
                "updated_at": now,
            }
        )

    rows: dict[str, int] = {}
    numbers: Counter[tuple[str, int]] = Counter()
    with app.session() as session:
        employer_ids = [r[0] for r in insert_returning(session, Employer, employers, ("id",))]
        rows["employer"] = len(employer_ids)
        for row, employer_id in zip(case_rows, employer_ids, strict=True):
            row["employer_id"] = employer_id
        case_ids = [r[0] for r in insert_returning(session, Case, case_rows, ("id",))]
        rows["case"] = len(case_ids)

        items, events, notices = [], [], []
        insurances = ("pension", "medical", "unemployment", "work_injury", "maternity")
        version = f"{policy.name} {policy.version}"
        for case_id, employer_id, cohort, first, employer in zip(
            case_ids, employer_ids, plan, firsts, employers, strict=True
        ):
            due_date = first - timedelta(days=1)
            month = due_date.year * 12 + due_date.month - 2  # the period before the due month
            period = f"{month // 12:04d}-{month % 12 + 1:02d}"
            for insurance in insurances[:items_per_case]:
                items.append(
                    {
                        "employer_id": employer_id,
                        "case_id": case_id,
                        "period": period,
                        "insurance": insurance,
                        "kind": "declared_unpaid",
                        "amount_due_fen": rng.randint(200_00, 20_000_00),
                        "due_date": due_date,
                        "principal_paid_fen": 0,
                        "fee_paid_fen": 0,
                        "settled_on": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            events.append(
                event(
                    case_id,
                    first,
                    "case_opened",
                    "system:import",
                    f"case opened with {items_per_case} arrears item(s) (benchmark data)",
                    policy_version=version,
                )
            )
            for kind, day in cohort.taken:
                step = policy.step(kind)
                taken_on = first + timedelta(days=day - 1)
                events.append(
                    event(
                        case_id,
                        taken_on,
                        "step_taken",
                        "system:escalation",
                        f"{step.label} ({step.title}): benchmark history",
                        step=kind,
                        policy_version=version,
                        data={"level": step.level},
                    )
                )
                notices += past_notices(
                    case_id,
                    step,
                    taken_on,
                    employer,
                    document_types,
                    format_number,
                    numbers,
                    agency,
                    served=kind != "order_to_pay",
                    now=now,
                )
        rows["arrears_item"] = insert_rows(session, ArrearsItem, items)
        rows["notice"] = insert_rows(session, Notice, notices)
        rows["case_event"] = insert_rows(
            session, CaseEvent, eventlog.chain_rows(session.connection(), events)
        )
        insert_rows(
            session,
            DocumentSequence,
            [{"notice_type": t, "year": y, "last": n} for (t, y), n in sorted(numbers.items())],
        )
    engine = app.engine
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")  # what autovacuum would have done by now
        else:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # one file to copy
        connection.commit()
    engine.dispose()

    expected: Counter[tuple[str, str]] = Counter(
        (c.due, c.channel) for c in plan if c.due is not None and c.channel is not None
    )
    counts = Counter(c.name for c in plan)
    return Population(
        cases=cases,
        due=due,
        sms=expected[("sms_reminder", "sms")],
        expected=expected,
        cohorts=[(c.name, counts[c.name]) for c in (*DUE_COHORTS, *WAITING_COHORTS)],
        rows=rows,
        seconds=time.perf_counter() - started,
    )


def event(
    case_id: int,
    on_date: date,
    kind: str,
    actor: str,
    message: str,
    *,
    step: str | None = None,
    policy_version: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event row as ``cases.casework.event_row`` writes it, stamped on its own day."""
    from cases.casework import event_row

    row = event_row(
        case_id=case_id,
        kind=kind,
        message=message,
        on_date=on_date,
        actor=actor,
        data=data,
        step=step,
        policy_version=policy_version,
    )
    return row | {"at": datetime.combine(on_date, datetime.min.time(), tzinfo=UTC)}


def past_notices(
    case_id: int,
    step: Any,
    taken_on: date,
    employer: dict[str, Any],
    document_types: Any,
    format_number: Any,
    numbers: Counter[tuple[str, int]],
    agency: Any,
    *,
    served: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """The notice rows a step taken earlier left behind: an SMS delivered, a call task, letters.

    Letters were printed (a stand-in hash, so nothing waits in the print batch) and numbered;
    all but the order to pay were served three days later.
    """
    from cases.notices import letter_key, message_key, notice_row

    def row(channel: str, key: str, document_type: str | None = None) -> dict[str, Any]:
        return notice_row(
            case_id=case_id,
            business_key=key,
            step=step,
            channel=channel,
            issued_on=taken_on,
            document_type=document_type,
        ) | {"created_at": now, "updated_at": now}

    if step.channel == "sms":
        return [
            row("sms", message_key(case_id, step.kind, "sms", taken_on))
            | {
                "status": "delivered",
                "recipient": employer["mobile"],
                "body": f"【和平社保】{employer['name']}：贵单位欠缴社保费，请尽快缴清。",
                "segments": 1,
                "provider_id": f"SM{case_id:032x}",
                "attempts": 1,
                "sent_at": datetime.combine(taken_on, datetime.min.time(), tzinfo=UTC),
            }
        ]
    if step.channel == "officer_task":
        return [
            row("officer_task", message_key(case_id, step.kind, "officer_task", taken_on))
            | {
                "status": "task_open",
                "recipient": employer["mobile"],
                "body": "benchmark history: the officer's call script",
            }
        ]
    letters = []
    served_on = taken_on + timedelta(days=3)
    for document_type in sorted(document_types(step)):
        numbers[(document_type, taken_on.year)] += 1
        prefix = agency.document_prefix + agency.document_codes[document_type]
        is_served = served and served_on <= AS_OF
        letters.append(
            row("letter", letter_key(case_id, step.kind, document_type, taken_on), document_type)
            | {
                "document_number": format_number(
                    prefix, taken_on.year, numbers[(document_type, taken_on.year)]
                ),
                "status": "served" if is_served else "printed",
                "served_on": served_on if is_served else None,
                "service_method": "post" if is_served else None,
                "content_sha256": f"{case_id:064x}",
                "pages": 1,
            }
        )
    return letters


# --------------------------------------------------------------------------------------------
# The child processes: one measured run each
# --------------------------------------------------------------------------------------------


def after_yesterday(settings: Any) -> tuple[float, Counter[str]]:
    """Leave the built store as last night's run would have: review dates and a run record.

    A night decides only the cases due for review (``cases.review``). The population is written
    by bulk inserts, so it has no review dates yet; here every case is decided as of yesterday
    (``cases.facts.store_review_dates``) and yesterday's run is recorded as completed, so tonight
    decides what a real night after a real yesterday would.
    """
    from arrears.wiring import App
    from cases.facts import store_review_dates
    from cases.models import EscalationRun

    app = App(settings)
    started = time.perf_counter()
    yesterday = AS_OF - timedelta(days=1)
    with app.session() as session:
        seen = store_review_dates(session, as_of=yesterday, policy=app.policy)
        session.add(
            EscalationRun(
                as_of=yesterday,
                status="completed",
                worker="bench:yesterday",
                counts={"review": {"full": True, "basis": app.review_basis}},
            )
        )
    seconds = time.perf_counter() - started
    app.engine.dispose()
    return seconds, seen


def emit(result: dict[str, Any]) -> None:
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


def child_decide() -> None:
    """The dry run: decide the cases due for review, district by district as ours does."""
    from arrears.settings import Settings
    from arrears.wiring import App
    from cases.facts import decisions, open_districts

    app = App(Settings())
    policy = app.policy
    taken: Counter[tuple[str, str]] = Counter()
    other: Counter[str] = Counter()
    started = time.perf_counter()
    with app.session() as session:
        districts = open_districts(session)
    for district in districts:
        with app.session() as session:
            for _head, _facts, decision in decisions(
                session, as_of=AS_OF, policy=policy, district=district, due_only=True
            ):
                if decision.action == "take_step" and decision.step is not None:
                    taken[(decision.step.kind, decision.channel or decision.step.channel)] += 1
                else:
                    other[decision.action] += 1
    seconds = time.perf_counter() - started
    emit(
        {
            "total_s": seconds,
            "taken": [[step, channel, n] for (step, channel), n in sorted(taken.items())],
            "other": dict(other),
        }
    )


class TimedTransport:
    """The transport as it is, with the wall-clock seconds during which a call was in flight.

    Requests overlap (several threads send), so the time is counted while at least one is
    under way, not summed per call.
    """

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.name = transport.name
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0

    def _timed(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1
        try:
            return getattr(self.transport, method)(*args, **kwargs)
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self.seconds += time.perf_counter() - self._since

    def send_sms(self, message: Any) -> Any:
        return self._timed("send_sms", message)

    def send_call(self, call: Any) -> Any:
        return self._timed("send_call", call)

    def find_sent(self, **kwargs: Any) -> Any:
        return self._timed("find_sent", **kwargs)


def child_ours(profile_path: str | None) -> None:
    """The nightly pass without letters, district by district, as the flow's task runs it."""
    import cProfile

    from arrears.settings import Settings
    from arrears.wiring import App
    from cases.facts import open_districts
    from notifications.escalation import NightSummary

    app = App(Settings())
    escalation = app.escalation()  # loads and checks the policy and texts: not timed
    if app.transport.name != "twilio":
        raise SystemExit(f"expected the Twilio transport, got {app.transport.name}")
    provider = TimedTransport(app.transport)
    escalation.transport = provider
    summary = NightSummary(AS_OF)
    profiler = cProfile.Profile() if profile_path else None
    plan_s = send_s = 0.0
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    with app.session() as session:
        districts = open_districts(session)
    plan_s += time.perf_counter() - started
    for district in districts:
        t0 = time.perf_counter()
        escalation.plan(AS_OF, summary, district)
        t1 = time.perf_counter()
        escalation.send(summary, district)
        t2 = time.perf_counter()
        plan_s += t1 - t0
        send_s += t2 - t1
    total = time.perf_counter() - started
    if profiler is not None and profile_path is not None:
        profiler.disable()
        profiler.dump_stats(profile_path)
    emit(
        {
            "plan_s": plan_s,
            "send_s": send_s,
            "provider_s": provider.seconds,
            "total_s": total,
            "districts": len(districts),
            "transport": repr(app.transport),
            "summary": summary.as_dict(),
        }
    )


def child_baseline(server_url: str, account_sid: str, auth_token: str) -> None:
    """Bare I/O: one SELECT of the due cases, one executemany of events, one POST per SMS.

    The events are chained onto their cases' logs (``eventlog.chain_rows``: one upsert, one
    locked read and one update of the chains' heads), as any writer of the log must.
    """
    from arrears.settings import Settings

    concurrency = Settings().sms_concurrency
    from sqlalchemy import and_, insert, or_, select

    from arrears.db import make_engine
    from cases import eventlog
    from cases.bulk import table
    from cases.models import Case, CaseEvent, Employer

    case, employer, case_event = table(Case), table(Employer), table(CaseEvent)
    due = or_(
        *(
            and_(case.c.stage == stage, case.c.first_overdue_on <= AS_OF - timedelta(days=day - 1))
            for stage, day in BASELINE_DUE_RULE
        )
    )
    query = (
        select(
            case.c.id,
            case.c.stage,
            employer.c.name,
            employer.c.mobile,
            employer.c.sms_opted_out,
        )
        .join(employer, employer.c.id == case.c.employer_id)
        .where(case.c.status == "open", due)
        .order_by(case.c.id)
    )
    parts = urlsplit(server_url)
    path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
    headers = {
        "Authorization": "Basic "
        + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii"),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    engine = make_engine(Settings().effective_database_url)

    started = time.perf_counter()
    with engine.begin() as connection:
        rows = connection.execute(query).all()
        at = datetime.now(UTC)
        connection.execute(
            insert(case_event),
            eventlog.chain_rows(
                connection,
                [
                    {
                        "case_id": r.id,
                        "at": at,
                        "on_date": AS_OF,
                        "kind": "step_taken",
                        "actor": "bench:baseline",
                        "message": f"{STAGE_STEP[r.stage]} taken (baseline)",
                        "step": STAGE_STEP[r.stage],
                        "policy_version": None,
                        "data": {},
                    }
                    for r in rows
                ],
            ),
        )
    database_s = time.perf_counter() - started
    http_started = time.perf_counter()
    forms = [
        urlencode(
            {
                "To": r.mobile,
                "From": FROM_NUMBER,
                "Body": f"【和平社保】{r.name}：截至2026年11月26日，贵单位欠缴社保费及滞纳金，"
                "请尽快缴清，逾期滞纳金按日累加。咨询022-27301234。回复TD退订",
            }
        )
        for r in rows
        if r.stage == 0 and r.mobile and not r.sms_opted_out
    ]
    local = threading.local()

    def post(body: str) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = http.client.HTTPConnection(
                parts.hostname or "127.0.0.1", parts.port, timeout=30
            )
        client.request("POST", path, body, headers)
        answer = client.getresponse()
        answer.read()
        return answer.status

    # As many requests in flight as ours keeps (ARREARS_SMS_CONCURRENCY), one connection each.
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(post, forms))
    accepted = statuses.count(201)
    refused = len(statuses) - accepted
    finished = time.perf_counter()
    engine.dispose()
    emit(
        {
            "total_s": finished - started,
            "database_s": database_s,
            "http_s": finished - http_started,
            "due": len(rows),
            "sms_accepted": accepted,
            "sms_refused": refused,
        }
    )


def child_prefect() -> None:
    """The Prefect flow once, ephemeral mode; ``print_letters`` is switched off (not measured)."""
    from arrears import prefect_env
    from arrears.settings import Settings

    prefect_env.configure(Settings())  # before Prefect is imported
    from notifications.escalation import Escalation, NightSummary

    def no_letters(self: Escalation, summary: NightSummary, district: str | None = None) -> None:
        return None  # letters stay planned: printing is outside this benchmark

    Escalation.print_letters = no_letters  # type: ignore[method-assign]

    started = time.perf_counter()
    from prefect import flow

    from flows.nightly import nightly_escalation

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    warm_up()  # starts the ephemeral API server, which the night's flow then reuses
    startup_s = time.perf_counter() - started
    flow_started = time.perf_counter()
    counts = nightly_escalation(AS_OF)
    flow_s = time.perf_counter() - flow_started
    emit({"startup_s": startup_s, "flow_s": flow_s, "counts": counts})


def child_main(argv: Sequence[str]) -> int:
    mode = argv[0]
    if mode == "decide":
        child_decide()
    elif mode == "ours":
        child_ours(None)
    elif mode == "profile":
        child_ours(argv[1])
    elif mode == "baseline":
        child_baseline(argv[1], argv[2], argv[3])
    elif mode == "prefect":
        child_prefect()
    else:
        raise SystemExit(f"unknown child mode {mode!r}")
    return 0


# --------------------------------------------------------------------------------------------
# The fake Twilio server, in its own process
# --------------------------------------------------------------------------------------------


@dataclass
class FakeServer:
    url: str
    account_sid: str
    auth_token: str

    def call(self, method: str, path: str) -> dict[str, Any]:
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=60
        )
        try:
            connection.request(method, path)
            return dict(json.loads(connection.getresponse().read()))
        finally:
            connection.close()

    def reset(self) -> None:
        self.call("POST", "/_fake/reset")

    def sms_requests(self) -> int:
        record = self.call("GET", "/_fake/requests")["requests"]
        return sum(
            1 for r in record if r["method"] == "POST" and r["path"].endswith("/Messages.json")
        )


@contextmanager
def fake_server() -> Iterator[FakeServer]:
    from tests.fake_twilio import AUTH_TOKEN

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        hello = json.loads(process.stdout.readline())
        yield FakeServer(hello["url"], hello["account_sid"], AUTH_TOKEN)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the server's signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------------------------
# Stores: one built per backend, a fresh copy for every run
# --------------------------------------------------------------------------------------------


def clean_environment() -> dict[str, str]:
    """The caller's environment without settings that would point the runs elsewhere."""
    prefixes = ("ARREARS_", "TWILIO_", "PREFECT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Backend:
    """A built store of one backend and the fresh copies the runs work on."""

    name: str

    def settings(self) -> Any:
        raise NotImplementedError

    def copy(self, label: str) -> dict[str, str]:
        """A fresh copy of the built store; the environment that points a run at it."""
        raise NotImplementedError

    def discard(self, label: str) -> None:
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.built = workdir / "sqlite-built"

    def settings(self) -> Any:
        from arrears.settings import Settings

        return Settings(data_dir=self.built, database_url=None)

    def copy(self, label: str) -> dict[str, str]:
        target = self.workdir / f"sqlite-{label}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        shutil.copyfile(self.built / "arrears.sqlite3", target / "arrears.sqlite3")
        return {"ARREARS_DATA_DIR": str(target)}

    def discard(self, label: str) -> None:
        shutil.rmtree(self.workdir / f"sqlite-{label}", ignore_errors=True)


class PostgresBackend(Backend):
    """A throwaway database ``arrears_bench_<random>`` and one copy of it per run (TEMPLATE)."""

    name = "postgres"

    def __init__(self, workdir: Path, server_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        from arrears.settings import normalise_database_url

        self.workdir = workdir
        self.admin_url = make_url(normalise_database_url(server_url))
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.database = f"arrears_bench_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def _url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def _sql(self, statement: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def create(self) -> None:
        self._sql(f'CREATE DATABASE "{self.database}"')
        self.created.append(self.database)

    def settings(self) -> Any:
        from arrears.settings import Settings

        return Settings(
            data_dir=self.workdir / "postgres-built", database_url=self._url(self.database)
        )

    def copy(self, label: str) -> dict[str, str]:
        name = f"{self.database}_{label}"
        self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.database}" STRATEGY FILE_COPY')
        self.created.append(name)
        data_dir = self.workdir / f"postgres-{label}"
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir()  # Prefect's home goes here
        return {"ARREARS_DATA_DIR": str(data_dir), "ARREARS_DATABASE_URL": self._url(name)}

    def discard(self, label: str) -> None:
        name = f"{self.database}_{label}"
        self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)
        shutil.rmtree(self.workdir / f"postgres-{label}", ignore_errors=True)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
        self.admin.dispose()


# --------------------------------------------------------------------------------------------
# Running the children
# --------------------------------------------------------------------------------------------


@dataclass
class ChildRun:
    ok: bool
    seconds: float  # wall clock around the whole child, start-up included
    result: dict[str, Any]
    server_sms: int | None
    tail: str


def run_child(
    backend: Backend, server: FakeServer, label: str, argv: Sequence[str], workdir: Path
) -> ChildRun:
    env = clean_environment() | backend.copy(label)
    env |= {
        "TWILIO_ACCOUNT_SID": server.account_sid,
        "TWILIO_AUTH_TOKEN": server.auth_token,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "ARREARS_TWILIO_BASE_URL": server.url,
        "ARREARS_SMS_CONCURRENCY": str(CONCURRENCY[0]),
    }
    server.reset()
    this_script = str(Path(__file__).resolve())
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, this_script, CHILD_FLAG, *argv],
                env=env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=err,
                check=False,
            )
            seconds = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        server_sms = server.sms_requests()
    finally:
        backend.discard(label)
    result: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
    ok = proc.returncode == 0 and bool(result)
    tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-15:])
    return ChildRun(ok, seconds, result, server_sms, tail)


# --------------------------------------------------------------------------------------------
# One backend, end to end
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    population: Population | None = None
    decide: ChildRun | None = None
    population_ok: bool = False
    ours: ChildRun | None = None
    baseline: ChildRun | None = None  # the median of the baseline runs
    baseline_all: list[float] = field(default_factory=list)
    load: float | None = None  # 1-minute load average when the backend's runs began
    prefect: ChildRun | None = None
    profile: ChildRun | None = None
    profile_path: Path | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.ours and self.ours.ok and self.baseline and self.baseline.ok:
            return float(self.ours.result["total_s"]) / float(self.baseline.result["total_s"])
        return None

    @property
    def targets_met(self) -> bool:
        ratio = self.ratio
        return (
            ratio is not None
            and ratio <= TARGET_RATIO
            and self.ours is not None
            and float(self.ours.result["total_s"]) < TARGET_SECONDS
        )


def check_ours(result: Result, run: ChildRun, what: str) -> None:
    """The run took exactly the steps built for, and every SMS reached the server once."""
    population = result.population
    assert population is not None
    if not run.ok:
        result.problems.append(f"{what} failed")
        return
    summary = run.result["summary"] if "summary" in run.result else run.result["counts"]
    steps = Counter(summary["steps"])
    expected_steps: Counter[str] = Counter()
    for (step, _channel), n in population.expected.items():
        expected_steps[step] += n
    if steps != expected_steps:
        result.problems.append(f"{what}: steps {dict(steps)} != expected {dict(expected_steps)}")
    sent = summary["sent"]
    if sum(sent.values()) != population.sms or run.server_sms != population.sms:
        result.problems.append(
            f"{what}: {sent} messages, server saw {run.server_sms} SMS; expected {population.sms}"
        )
    if summary["failures"]:
        result.problems.append(f"{what}: failures {summary['failures'][:5]}")


def bench_backend(
    backend: Backend, server: FakeServer, args: argparse.Namespace, workdir: Path
) -> Result:
    result = Result(backend.name, load=load_average())
    say(f"[{backend.name}] building {args.cases:,} open cases (bulk inserts)")
    population = build_population(
        backend.settings(),
        cases=args.cases,
        due_share=args.due_share,
        items_per_case=args.items_per_case,
        seed=SEED,
    )
    result.population = population
    say(
        f"  built in {population.seconds:.1f} s: "
        + ", ".join(f"{n:,} {t}" for t, n in population.rows.items())
    )
    for name, n in population.cohorts:
        say(f"    {n:>7,}  {name}")
    say(f"[{backend.name}] yesterday's night: review dates and the run record it leaves")
    seconds, seen = after_yesterday(backend.settings())
    say(
        f"  {seconds:.1f} s (not measured): every open case decided for {AS_OF - timedelta(1)}: "
        + ", ".join(f"{n:,} {action}" for action, n in sorted(seen.items()))
    )

    say(f"[{backend.name}] dry run: decide the cases due for review, district by district")
    result.decide = run_child(backend, server, "decide", ["decide"], workdir)
    if not result.decide.ok:
        report_run(result.decide)
        result.problems.append("the dry run failed")
        return result
    taken = Counter({(step, channel): n for step, channel, n in result.decide.result["taken"]})
    say(
        f"  {result.decide.result['total_s']:.1f} s: "
        + ", ".join(f"{n:,} {step} by {channel}" for (step, channel), n in sorted(taken.items()))
        + "; otherwise "
        + ", ".join(f"{n:,} {a}" for a, n in sorted(result.decide.result["other"].items()))
    )
    result.population_ok = taken == population.expected
    if not result.population_ok:
        result.problems.append(
            f"the dry run takes {dict(taken)}, the population was built for "
            f"{dict(population.expected)}"
        )
        say(f"  NOT the population built: {result.problems[-1]}")
        return result

    say(f"[{backend.name}] ours: Escalation.plan + send, district by district, no letters")
    result.ours = run_child(backend, server, "ours", ["ours"], workdir)
    report_run(result.ours)
    check_ours(result, result.ours, "ours")

    say(
        f"[{backend.name}] baseline: one SELECT, one executemany, one POST per SMS "
        f"({args.baseline_runs} runs, the median counts)"
    )
    runs = []
    for n in range(args.baseline_runs):
        run = run_child(
            backend,
            server,
            f"baseline{n}",
            ["baseline", server.url, server.account_sid, server.auth_token],
            workdir,
        )
        report_run(run)
        runs.append(run)
        if not run.ok:
            result.problems.append("baseline failed")
            continue
        b = run.result
        if b["due"] != population.due or b["sms_accepted"] != population.sms:
            result.problems.append(
                f"baseline: read {b['due']} due cases and sent {b['sms_accepted']} SMS; "
                f"expected {population.due} and {population.sms}"
            )
        if run.server_sms != population.sms:
            result.problems.append(f"baseline: the server saw {run.server_sms} SMS")
    done = sorted((r for r in runs if r.ok), key=lambda r: float(r.result["total_s"]))
    if done:
        result.baseline = done[(len(done) - 1) // 2]
        result.baseline_all = [float(r.result["total_s"]) for r in runs if r.ok]

    if args.prefect == "yes":
        say(f"[{backend.name}] the Prefect flow nightly_escalation once (ephemeral; letters off)")
        result.prefect = run_child(backend, server, "prefect", ["prefect"], workdir)
        report_run(result.prefect)
        check_ours(result, result.prefect, "prefect flow")

    wanted = args.profile == "always" or (args.profile == "auto" and not result.targets_met)
    if wanted and result.ours is not None and result.ours.ok:
        say(f"[{backend.name}] ours again under cProfile")
        folder = args.profile_dir or workdir
        folder.mkdir(parents=True, exist_ok=True)
        result.profile_path = (folder / f"profile-{backend.name}.pstats").resolve()
        result.profile = run_child(
            backend, server, "profile", ["profile", str(result.profile_path)], workdir
        )
        report_run(result.profile)
    return result


def report_run(run: ChildRun) -> None:
    if not run.ok:
        say(f"  FAILED after {run.seconds:.1f} s")
        for line in run.tail.splitlines():
            say(f"    {line}")
        return
    r = run.result
    if "plan_s" in r:
        say(
            f"  plan {r['plan_s']:.1f} s + send {r['send_s']:.1f} s (provider "
            f"{r['provider_s']:.1f} s) = {r['total_s']:.1f} s; "
            f"steps {r['summary']['steps']}; messages {r['summary']['sent']}; "
            f"server saw {run.server_sms} SMS"
        )
    elif "database_s" in r:
        say(
            f"  {r['total_s']:.2f} s (SELECT + executemany {r['database_s']:.2f} s, "
            f"{r['sms_accepted']:,} POSTs {r['http_s']:.2f} s); server saw {run.server_sms} SMS"
        )
    else:
        c = r["counts"]
        say(
            f"  start-up {r['startup_s']:.1f} s, flow {r['flow_s']:.1f} s ({c.get('status')}, "
            f"{c.get('districts')} districts); steps {c.get('steps')}; messages {c.get('sent')}; "
            f"server saw {run.server_sms} SMS"
        )


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


def main_row(r: Result) -> tuple[str, ...]:
    p = r.population
    ours = r.ours.result if r.ours and r.ours.ok else None
    base = r.baseline.result if r.baseline and r.baseline.ok else None
    ratio = r.ratio

    def secs(value: Any, digits: int = 1) -> str:
        return "-" if value is None else f"{float(value):.{digits}f}"

    def verdict(met: bool | None) -> str:
        return "-" if met is None else ("yes" if met else "NO")

    return (
        r.backend,
        f"{p.cases:,}" if p else "-",
        f"{p.due:,}" if p else "-",
        f"{sum(ours['summary']['sent'].values()):,}" if ours else "-",
        secs(ours and ours["plan_s"]),
        secs(ours and ours["send_s"]),
        secs(ours and ours["total_s"]),
        secs(base and base["total_s"], 2),
        "-" if ratio is None else f"{ratio:.1f}x",
        verdict(None if ratio is None else ratio <= TARGET_RATIO),
        verdict(None if ours is None else ours["total_s"] < TARGET_SECONDS),
    )


def detail_row(r: Result) -> tuple[str, ...]:
    p = r.population
    decide = r.decide.result if r.decide and r.decide.ok else None
    ours = r.ours.result if r.ours and r.ours.ok else None
    base = r.baseline.result if r.baseline and r.baseline.ok else None
    pre = r.prefect.result if r.prefect and r.prefect.ok else None

    def secs(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def per_sms(seconds: float | None) -> str:
        return "-" if seconds is None or not p or not p.sms else f"{1000 * seconds / p.sms:.2f}"

    return (
        r.backend,
        secs(p.seconds if p else None),
        secs(decide["total_s"] if decide else None),
        secs(ours["plan_s"] - decide["total_s"] if ours and decide else None),
        secs(ours["provider_s"] if ours else None),
        secs(ours["send_s"] - ours["provider_s"] if ours else None),
        per_sms(ours["send_s"] if ours else None),
        "/".join(f"{t:.2f}" for t in r.baseline_all) or "-",
        secs(base["database_s"] if base else None, 2),
        secs(base["http_s"] if base else None, 2),
        per_sms(base["http_s"] if base else None),
        secs(pre["startup_s"] if pre else None),
        secs(pre["flow_s"] if pre else None) if pre or not r.prefect else "failed",
        secs(r.load, 2),
    )


def print_tables(results: list[Result]) -> None:
    print()
    table(
        (
            "backend",
            "cases",
            "due",
            "SMS sent",
            "plan s",
            "send s",
            "ours s",
            "baseline s",
            "ours/baseline",
            f"<= {TARGET_RATIO:.0f}x",
            f"< {TARGET_SECONDS:.0f} s",
        ),
        [main_row(r) for r in results],
    )
    print()
    table(
        (
            "backend",
            "build s",
            "decide s",
            "plan - decide s",
            "provider s",
            "send - provider s",
            "ours ms/SMS",
            "baseline runs s",
            "base SQL s",
            "base POST s",
            "base ms/SMS",
            "prefect start-up s",
            "prefect flow s",
            "load",
        ),
        [detail_row(r) for r in results],
    )
    print()
    for line in (
        "ours: Escalation.plan, then Escalation.send, for each district in turn (letters not "
        "printed); TwilioTransport to the fake server in its own process, no rate limit.",
        "baseline: one SELECT of the due cases, one executemany of a case_event each, one "
        "http.client POST per SMS, as many in flight as ours (ARREARS_SMS_CONCURRENCY); the "
        "median of its runs; base SQL and POST split that run.",
        "decide: the dry run, cases.facts.decisions for the cases due for review, district by "
        "district, nothing written; plan - decide is what persisting the steps adds.",
        "provider: wall time with a TwilioTransport call in flight (the twilio client and the "
        "round trip); send - provider is what the store adds to sending, not hidden behind it.",
        "prefect: nightly_escalation once, ephemeral mode, letters off; districts run as "
        "concurrent tasks. Not part of the ratio.",
        "load: the machine's 1-minute load average when the backend's runs began (other work "
        "on the machine slows every figure).",
    ):
        print(line)
    for r in results:
        for problem in r.problems:
            print(f"[{r.backend}] PROBLEM: {problem}")
        if r.profile_path is not None and r.profile is not None and r.profile.ok:
            print_profile(r)


OURS = ("cases/", "notifications/", "arrears/", "flows/")


def where(filename: str) -> str:
    """A short name for where a function lives: our module, a package, or the standard library."""
    if filename == "~":
        return "builtin"
    if filename.startswith("<frozen "):
        return filename.removeprefix("<frozen ").removesuffix(">")
    path = Path(filename)
    if "site-packages" in path.parts:
        return "/".join(path.parts[path.parts.index("site-packages") + 1 :])
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return path.name


def package(filename: str, function: str) -> str:
    """Own time grouped: our packages, third-party packages, the DB drivers, the stdlib."""
    if filename == "~":
        for needle, label in (
            ("sqlite3", "sqlite3 (C)"),
            ("_socket", "socket (C)"),
            ("select", "socket (C)"),
        ):
            if needle in function:
                return label
        return "other builtins"
    short = where(filename)
    if short.startswith(OURS):
        return short.split("/")[0] + " (ours)"
    if "site-packages" in Path(filename).parts:
        return short.split("/")[0].removesuffix(".py")
    return "stdlib " + short.split("/")[0].removesuffix(".py")


def label(key: tuple[str, int, str]) -> str:
    file, line, func = key
    return f"{where(file)}:{line}({func})"


def print_profile(r: Result) -> None:
    assert r.profile_path is not None and r.profile is not None
    raw = pstats.Stats(str(r.profile_path)).stats  # type: ignore[attr-defined]
    result = r.profile.result
    total = float(result["total_s"])
    print()
    print(
        f"[{r.backend}] cProfile of ours: {total:.1f} s under the profiler (plan "
        f"{result['plan_s']:.1f} s, send {result['send_s']:.1f} s, of which provider "
        f"{result['provider_s']:.1f} s)"
    )
    ours = sorted(
        (
            (ct, nc, tt, label(key))
            for key, (_cc, nc, tt, ct, _) in raw.items()
            if where(key[0]).startswith(OURS)
        ),
        reverse=True,
    )
    print()
    print("our functions by cumulative time:")
    table(
        ("function", "calls", "own s", "cumulative s"),
        [(name, f"{nc:,}", f"{tt:.2f}", f"{ct:.2f}") for ct, nc, tt, name in ours[:25]],
    )
    # The third-party and standard-library calls our code makes itself, with their callees.
    direct: dict[tuple[str, int, str], list[float]] = {}
    for key, (_cc, _nc, _tt, _ct, callers) in raw.items():
        if where(key[0]).startswith((*OURS, "bench/")):
            continue  # the benchmark's own timing wrapper is not a callee of interest
        for caller, edge in callers.items():
            if where(caller[0]).startswith(OURS):
                calls, cumulative = edge[1], edge[3]
                entry = direct.setdefault(key, [0, 0.0])
                entry[0] += calls
                entry[1] += cumulative
    print()
    print("what our code calls directly (outside our code), by cumulative time:")
    table(
        ("function", "calls", "cumulative s"),
        [
            (label(key), f"{int(calls):,}", f"{cumulative:.2f}")
            for key, (calls, cumulative) in sorted(
                direct.items(), key=lambda item: item[1][1], reverse=True
            )[:20]
        ],
    )
    groups: Counter[str] = Counter()
    for key, (_cc, _nc, tt, _ct, _callers) in raw.items():
        groups[package(key[0], key[2])] += tt
    print()
    print("own time by where it is spent:")
    table(
        ("where", "own s", "share"),
        [(name, f"{s:.2f}", f"{100 * s / total:.0f} %") for name, s in groups.most_common(15)],
    )
    hot = sorted(((tt, nc, label(key)) for key, (_, nc, tt, _, _) in raw.items()), reverse=True)
    print()
    print("functions by own time:")
    table(
        ("function", "calls", "own s"),
        [(name, f"{nc:,}", f"{tt:.2f}") for tt, nc, name in hot[:20]],
    )
    # Round trips to the database, and how many per due case.
    due = r.population.due if r.population else 0
    counts: Counter[str] = Counter()
    for (file, _line, func), (_cc, nc, _tt, _ct, _callers) in raw.items():
        if func in (
            "<method 'execute' of 'sqlite3.Cursor' objects>",
            "<method 'executemany' of 'sqlite3.Cursor' objects>",
        ) or (file.endswith("psycopg/cursor.py") and func in ("execute", "executemany")):
            counts["SQL statements (DB-API execute/executemany)"] += nc
        elif file.endswith("sqlalchemy/engine/base.py") and func == "_commit_impl":
            counts["transactions committed"] += nc
    print()
    for name, calls in counts.items():
        print(f"{name}: {calls:,}" + (f", {calls / due:.1f} per due case" if due else ""))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time one night's escalation over open cases against a bare baseline."
    )
    parser.add_argument("--cases", type=int, default=100_000, help="open cases (default 100000)")
    parser.add_argument(
        "--due-share",
        type=float,
        default=0.10,
        help="share of the cases that take a step tonight (default 0.10)",
    )
    parser.add_argument(
        "--items-per-case",
        type=int,
        default=3,
        choices=range(1, 6),
        metavar="1-5",
        help="arrears items per case, one period, one per insurance (default 3)",
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default="both",
        help="which case store(s) to measure (default both)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ARREARS_BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL server to create the throwaway databases on "
        f"(default $ARREARS_BENCH_PG_URL or {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="SMS requests in flight at once, for ours and the baseline alike "
        "(ARREARS_SMS_CONCURRENCY; default 4)",
    )
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=3,
        help="how often to run the (short) baseline; the median counts (default 3)",
    )
    parser.add_argument(
        "--prefect",
        choices=("yes", "no"),
        default="yes",
        help="also run the Prefect flow once (default yes)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="run ours again under cProfile: when a target is missed (auto), always, never",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="keep the cProfile data (profile-<backend>.pstats) in this directory",
    )
    args = parser.parse_args(argv)
    if args.cases < 10:
        parser.error("--cases must be at least 10")
    if args.baseline_runs < 1:
        parser.error("--baseline-runs must be at least 1")
    if not 0 < args.due_share <= 1:
        parser.error("--due-share must be in (0, 1]")
    return args


def main(argv: Sequence[str]) -> int:
    if argv[:1] == [CHILD_FLAG]:
        return child_main(argv[1:])
    args = parse_args(argv)
    CONCURRENCY[0] = args.concurrency
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)

    from sqlalchemy.exc import SQLAlchemyError

    results: list[Result] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arrears-bench-nightly-") as tmp:
        workdir = Path(tmp)
        with fake_server() as server:
            say(f"fake Twilio server at {server.url} (its own process)")
            load = load_average()
            if load is not None:
                say(f"load average before the runs: {load:.2f} on {os.cpu_count()} cores")
            for name in backends:
                backend: Backend
                try:
                    if name == "sqlite":
                        backend = SqliteBackend(workdir)
                    else:
                        backend = PostgresBackend(workdir, args.pg_url)
                        backend.create()
                except SQLAlchemyError as exc:  # no server, no right to create databases...
                    say(f"[{name}] cannot set up a throwaway store: {exc}")
                    results.append(Result(name, problems=["no store: " + str(exc)[:200]]))
                    continue
                try:
                    results.append(bench_backend(backend, server, args, workdir))
                finally:
                    if isinstance(backend, PostgresBackend):
                        backend.drop_all()
        say(f"done in {time.perf_counter() - started:.0f} s")
        print_tables(results)  # inside: the profiles are in the temporary directory
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
