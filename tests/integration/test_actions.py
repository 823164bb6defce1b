"""Officers' case actions: calls, notes, flags, disputes, interviews, and the case timeline.

Each action's effect, its refusals in the words an officer reads, and what the next night's
decision makes of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from arrears.wiring import App
from cases import actions
from cases.actions import ActionRefused, CaseNotFound, NotAllowed
from cases.models import OfficerTask
from tests.integration.casework_world import FAR, World, day, make_world


@pytest.fixture
def w(store: App, tmp_path: Path) -> World:
    return make_world(store, tmp_path)


# ---------------------------------------------------------------------------------- calls


def test_a_call_is_logged_and_closes_the_nights_call_task(w: World) -> None:
    w.nights(1, 7)  # day 7: the officer's call task (rung phone_reminder)
    w.act(
        actions.record_call,
        actor=w.officer,
        case_id=w.a,
        today=day(8),
        outcome="answered",
        note="  会计说下周安排付款  ",
    )
    w.act(
        actions.record_call,
        actor=w.officer,
        case_id=w.b,
        today=day(8),
        outcome="no_answer",
    )
    (answered,) = w.events(w.a, "call_answered")
    assert answered.actor == "officer1" and answered.on_date == day(8)
    assert answered.message == "officer1 called the employer: answered. 会计说下周安排付款"
    (attempted,) = w.events(w.b, "call_attempted")
    assert attempted.data["outcome"] == "no_answer"
    assert attempted.message == "officer1 called the employer: no answer"
    with w.store.session() as session:
        tasks = {
            t.case_id: (t.status, t.outcome)
            for t in session.execute(
                select(OfficerTask).where(col(OfficerTask.kind) == "phone_reminder")
            ).scalars()
        }
    assert tasks == {w.a: ("done", "answered"), w.b: ("done", "no_answer")}


def test_a_call_is_refused_with_the_reason(w: World) -> None:
    call = {"actor": w.officer, "case_id": w.a, "today": day(8)}
    with pytest.raises(ActionRefused) as refused:
        w.act(actions.record_call, **call, outcome="busy")
    assert str(refused.value) == (
        "outcome: 'busy' is not one of answered, no_answer, refused, wrong_number, left_message"
    )
    assert refused.value.field == "outcome"
    with pytest.raises(ActionRefused, match=r"^note: 2001 characters; at most 2000 are kept$"):
        w.act(actions.record_call, **call, outcome="answered", note="x" * 2001)
    with pytest.raises(CaseNotFound):
        w.act(actions.record_call, **{**call, "case_id": w.hexi}, outcome="answered")
    with pytest.raises(CaseNotFound):  # another district's officer: the case does not exist
        w.act(actions.record_call, **{**call, "actor": w.hexi_officer}, outcome="answered")
    assert w.events(w.a, "call_answered") == []


def test_an_answered_call_spares_the_employer_the_interview(w: World) -> None:
    w.nights(1, 7, 15)  # SMS, call, reminder letter; the interview rung falls due on day 30
    w.park(w.a)
    w.act(
        actions.record_call,
        actor=w.officer,
        case_id=w.a,
        today=day(29),
        outcome="answered",
    )
    w.act(
        actions.record_call,
        actor=w.officer,
        case_id=w.b,
        today=day(29),
        outcome="wrong_number",
    )
    assert w.case(w.a).next_review_on is None  # decided again at the next night
    night = w.night(day(30))
    assert night.examined == 2
    # "uncooperative or no_response": the employer answered, so no interview for A.
    assert night.steps == {"interview": 1}
    assert "interview" not in w.steps(w.a) and "interview" in w.steps(w.b)


# ---------------------------------------------------------------------------------- notes


def test_a_note_is_kept_and_changes_no_decision(w: World) -> None:
    w.nights(1)
    w.park(w.a)
    w.act(actions.add_note, actor=w.officer, case_id=w.a, today=day(3), note="厂区已搬迁")
    (note,) = w.events(w.a, "note")
    assert note.message == "officer1 noted: 厂区已搬迁" and note.data == {"note": "厂区已搬迁"}
    assert w.case(w.a).next_review_on == FAR  # nothing decide reads changed
    assert w.night(day(4)).examined == 0
    with pytest.raises(ActionRefused, match=r"^note: required"):
        w.act(actions.add_note, actor=w.officer, case_id=w.a, today=day(3), note="   ")
    with pytest.raises(ActionRefused, match=r"^note: 2001 characters"):
        w.act(actions.add_note, actor=w.officer, case_id=w.a, today=day(3), note="注" * 2001)
    with pytest.raises(CaseNotFound):
        w.act(actions.add_note, actor=w.officer, case_id=w.hexi, today=day(3), note="x")


# ---------------------------------------------------------------------------------- flags


def test_marking_uncooperative_and_taking_it_back(w: World) -> None:
    mark = {"case_id": w.a, "today": day(5), "flag": "uncooperative"}
    w.act(actions.mark_case, actor=w.officer, **mark, reason="拒绝提供工资表")
    assert w.case(w.a).uncooperative
    (event,) = w.events(w.a, "marked_uncooperative")
    assert event.message == "officer1 marked the employer uncooperative: 拒绝提供工资表"
    with pytest.raises(ActionRefused, match=r"^flag: case \d+ is already marked uncooperative$"):
        w.act(actions.mark_case, actor=w.officer, **mark, reason="again")
    with pytest.raises(ActionRefused, match=r"^reason: required"):
        w.act(actions.mark_case, actor=w.officer, **{**mark, "flag": "malicious"}, reason="")
    with pytest.raises(ActionRefused, match=r"^flag: 'rude' is not one of uncooperative, malic"):
        w.act(actions.mark_case, actor=w.officer, **{**mark, "flag": "rude"}, reason="x")
    with pytest.raises(NotAllowed, match=r"only a supervisor may take back"):
        w.act(actions.unmark_case, actor=w.officer, **mark, reason="误标")
    with pytest.raises(ActionRefused, match=r"^reason: required"):
        w.act(actions.unmark_case, actor=w.supervisor, **mark, reason=" ")
    with pytest.raises(CaseNotFound):
        w.act(actions.mark_case, actor=w.hexi_officer, **mark, reason="x")
    w.act(actions.unmark_case, actor=w.supervisor, **mark, reason="误标：已提供工资表")
    assert not w.case(w.a).uncooperative
    (taken_back,) = w.events(w.a, "unmarked_uncooperative")
    assert taken_back.actor == "chief"
    assert taken_back.message == "chief took back the uncooperative mark: 误标：已提供工资表"
    with pytest.raises(ActionRefused, match=r"^flag: case \d+ is not marked malicious$"):
        w.act(actions.unmark_case, actor=w.supervisor, **{**mark, "flag": "malicious"}, reason="x")


def test_an_uncooperative_employer_is_interviewed_though_it_answered(w: World) -> None:
    w.nights(1, 7, 15)
    for case_id in (w.a, w.b):
        w.act(
            actions.record_call,
            actor=w.officer,
            case_id=case_id,
            today=day(20),
            outcome="answered",
        )
    w.nights(20)
    w.park(w.a, w.b)
    w.act(
        actions.mark_case,
        actor=w.officer,
        case_id=w.a,
        today=day(29),
        flag="uncooperative",
        reason="答应的材料一直不交",
    )
    assert w.case(w.a).next_review_on is None and w.case(w.b).next_review_on == FAR
    night = w.night(day(30))
    assert night.examined == 1 and night.steps == {"interview": 1}
    assert "interview" in w.steps(w.a)


# ---------------------------------------------------------------------------------- disputes


def test_a_dispute_pauses_the_ladder_until_a_supervisor_resolves_it(w: World) -> None:
    w.nights(1, 7)
    w.park(w.a)
    w.act(
        actions.open_dispute,
        actor=w.officer,
        case_id=w.a,
        today=day(14),
        reason="单位称8月已在地税缴纳",
    )
    case = w.case(w.a)
    assert case.status == "disputed" and case.next_review_on is None
    (opened,) = w.events(w.a, "dispute_opened")
    assert (
        opened.message
        == "officer1 recorded that the employer disputes the arrears: 单位称8月已在地税缴纳"
    )
    assert w.events(w.a, "status_changed")[-1].message.startswith("open → disputed")

    night = w.night(day(15))
    assert night.examined == 2 and night.steps == {"reminder_letter": 1}  # B only
    assert "reminder_letter" not in w.steps(w.a)

    resolve = {"case_id": w.a, "today": day(16)}
    with pytest.raises(ActionRefused, match=r"^case: case \d+ is already disputed$"):
        w.act(actions.open_dispute, actor=w.officer, **resolve, reason="x")
    with pytest.raises(NotAllowed, match=r"only a supervisor may resolve a dispute"):
        w.act(actions.resolve_dispute, actor=w.officer, **resolve, outcome="rejected", reason="x")
    with pytest.raises(ActionRefused, match=r"^outcome: 'maybe' is not one of upheld, rejected$"):
        w.act(actions.resolve_dispute, actor=w.supervisor, **resolve, outcome="maybe", reason="x")
    with pytest.raises(ActionRefused, match=r"^case: case \d+ is open, not disputed"):
        w.act(
            actions.resolve_dispute,
            actor=w.supervisor,
            case_id=w.b,
            today=day(16),
            outcome="rejected",
            reason="x",
        )
    w.act(
        actions.resolve_dispute,
        actor=w.supervisor,
        **resolve,
        outcome="rejected",
        reason="核对银行流水，8月未缴",
    )
    assert w.case(w.a).status == "open"
    (resolved,) = w.events(w.a, "dispute_resolved")
    assert resolved.message == "chief rejected the dispute: 核对银行流水，8月未缴"
    assert w.night(day(16)).steps == {"reminder_letter": 1}  # the ladder resumes for A
    assert "reminder_letter" in w.steps(w.a)


def test_a_dispute_on_another_districts_case_is_not_found(w: World) -> None:
    with pytest.raises(CaseNotFound):
        w.act(actions.open_dispute, actor=w.officer, case_id=w.hexi, today=day(3), reason="x")
    with pytest.raises(CaseNotFound):  # the role check never discloses the case either
        w.act(
            actions.resolve_dispute,
            actor=w.officer,
            case_id=w.hexi,
            today=day(3),
            outcome="upheld",
            reason="x",
        )


# ---------------------------------------------------------------------------------- interviews


def test_an_interview_scheduled_and_held(w: World) -> None:
    w.nights(1, 7, 15)
    task = w.act(
        actions.schedule_interview,
        actor=w.officer,
        case_id=w.a,
        today=day(20),
        on=day(25),
        place="和平区社保中心三楼约谈室",
    )
    assert (task.kind, task.due_on, task.status) == ("interview", day(25), "open")
    assert task.assigned_to == w.officer.user_id  # unassigned case: the officer who set it
    (scheduled,) = w.events(w.a, "interview_scheduled")
    assert scheduled.message == (
        f"officer1 scheduled an interview with the employer on {day(25)} "
        "at 和平区社保中心三楼约谈室"
    )
    w.act(
        actions.schedule_interview,
        actor=w.officer,
        case_id=w.b,
        today=day(20),
        on=day(25),
        place="和平区社保中心",
    )
    w.park(w.a, w.b)
    w.act(
        actions.record_interview,
        actor=w.officer,
        case_id=w.a,
        today=day(25),
        outcome="attended",
        note="法人到场，承认欠费",
    )
    w.act(
        actions.record_interview,
        actor=w.officer,
        case_id=w.b,
        today=day(25),
        outcome="not_attended",
    )
    with w.store.session() as session:
        done = session.get(OfficerTask, task.id)
        assert done is not None and (done.status, done.outcome) == ("done", "attended")
    (attended,) = w.events(w.a, "interview_attended")
    assert attended.message == (
        f"officer1 recorded that the employer came to the interview set for {day(25)}. "
        "法人到场，承认欠费"
    )
    assert len(w.events(w.b, "interview_missed")) == 1
    # Attending is a response: A is decided again and passes the interview rung over; a missed
    # interview is no response, and B (still parked) is not even looked at until its date.
    assert w.case(w.a).next_review_on is None and w.case(w.b).next_review_on == FAR
    w.nights(26, 30)
    assert "interview" not in w.steps(w.a)


def test_an_interview_is_refused_with_the_reason(w: World) -> None:
    at = {"actor": w.officer, "case_id": w.a, "today": day(20)}
    with pytest.raises(ActionRefused, match=rf"^date: {day(19)} is before today"):
        w.act(actions.schedule_interview, **at, on=day(19), place="中心")
    with pytest.raises(ActionRefused, match=r"^place: required"):
        w.act(actions.schedule_interview, **at, on=day(21), place="")
    with pytest.raises(
        ActionRefused, match=r"^outcome: 'late' is not one of attended, not_attended"
    ):
        w.act(actions.record_interview, **at, outcome="late")
    with pytest.raises(ActionRefused, match=r"^task: task 999 is not an open interview task"):
        w.act(actions.record_interview, **at, outcome="attended", task_id=999)
    with pytest.raises(CaseNotFound):
        w.act(actions.schedule_interview, **{**at, "case_id": w.hexi}, on=day(21), place="中心")


# ---------------------------------------------------------------------------------- timeline


def test_the_timeline_merges_events_and_notices_newest_first(w: World) -> None:
    w.nights(1, 7, 15)
    w.act(actions.add_note, actor=w.officer, case_id=w.a, today=day(16), note="已电话提醒查收")
    timeline = w.act(actions.case_timeline, actor=w.officer, case_id=w.a)
    assert timeline[0].kind == "note" and timeline[0].actor == "officer1"
    dates = [e.on_date for e in timeline]
    assert dates == sorted(dates, reverse=True)
    letter = next(e for e in timeline if e.kind == "notice" and e.channel == "letter")
    assert (letter.step, letter.status, letter.document_number, letter.pdf) == (
        "reminder_letter",
        "planned",
        None,
        False,
    )
    assert letter.message == "letter reminder letter; planned"
    sms = next(e for e in timeline if e.kind == "notice" and e.channel == "sms")
    assert sms.message.startswith("SMS sms reminder to +8613800000001")
    step = next(e for e in timeline if e.kind == "step_taken")
    assert step.policy_version == f"tianjin-2016 {w.store.policy.version}"
    assert step.as_json()["on_date"] == str(step.on_date)
    with pytest.raises(CaseNotFound):
        w.act(actions.case_timeline, actor=w.hexi_officer, case_id=w.a)
