"""The year's archive: exported as one bundle, copied anywhere, checked without the database."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tarfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from arrears.cli import app as cli
from arrears.wiring import App
from cases import contacts, logseal
from cases.models import ArchiveExport, Notice
from tests.integration.casework_world import World, make_world

runner = CliRunner()
TOP = "arrears-archive-2026"
NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:9/no_such_database"


def run(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def _year(store: App, tmp_path: Path) -> World:
    """Three cases of 2026: two reminder letters printed, notes, an SMS sent, two seals."""
    world = make_world(store, tmp_path)
    heads = logseal.heads_folder(store.settings.data_dir)
    with store.session() as session:
        desk = store.letter_desk(session)
        for case_id in (world.a, world.b):
            desk.issue(
                case_id=case_id,
                step_kind="reminder_letter",
                issued_on=date(2026, 10, 20),
                actor="officer1",
            )
    with store.session() as session:
        logseal.seal_and_commit(session, day=date(2026, 10, 20), folder=heads)
    world.act(
        contacts.add_note,
        actor=world.officer,
        case_id=world.a,
        today=date(2026, 11, 2),
        note="来电",
    )
    with store.session() as session:
        session.add(
            Notice(
                case_id=world.a,
                business_key=f"{world.a}:sms_reminder:sms:2026-11-03",
                step="sms_reminder",
                level=1,
                channel="sms",
                status="delivered",
                issued_on=date(2026, 11, 3),
                recipient="+8613800000001",
                body="【和平社保】贵单位欠缴社会保险费，请于10日内缴纳。",
                segments=1,
                provider_id="SM0123456789abcdef0123456789abcdef",
                sent_at=datetime(2026, 11, 3, 1, 0, tzinfo=UTC),
            )
        )
    with store.session() as session:
        logseal.seal_and_commit(session, day=date(2026, 11, 3), folder=heads)
    return world


@pytest.fixture
def exported(store: App, db_env: dict[str, str], tmp_path: Path) -> tuple[World, Path]:
    world = _year(store, tmp_path)
    result = run(db_env, "archive", "export", "--year", "2026", "--as-of", "2027-01-05")
    assert result.exit_code == 0, result.output
    bundle = store.settings.data_dir / "archives" / "arrears-archive-2026.tar"
    assert str(bundle) in result.stdout and "keep until 2036-12-31" in result.stdout
    # Copied to another machine: a folder with no database and no data folder of its own.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(bundle, elsewhere / bundle.name)
    return world, elsewhere / bundle.name


def _offline(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "empty-data"
    empty.mkdir(exist_ok=True)
    return {"ARREARS_DATABASE_URL": NOWHERE, "ARREARS_DATA_DIR": str(empty)}


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar
            if m.isreg()
        }


def _rewrite(bundle: Path, change: dict[str, bytes]) -> None:
    """Replace members of the tar, as someone editing a copy would."""
    _write(bundle, _members(bundle) | change)


def _write(bundle: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(bundle, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _resign(members: dict[str, bytes], name: str, data: bytes) -> dict[str, bytes]:
    """Change one file and make the manifest and its digest agree with it."""
    manifest = json.loads(members[f"{TOP}/manifest.json"])
    for entry in manifest["files"]:
        if f"{TOP}/{entry['path']}" == name:
            entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    body = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode()
    line = f"{hashlib.sha256(body).hexdigest()}  manifest.json\n".encode()
    return {name: data, f"{TOP}/manifest.json": body, f"{TOP}/MANIFEST.sha256": line}


def test_a_copied_bundle_verifies_without_the_database(
    exported: tuple[World, Path], tmp_path: Path, store: App
) -> None:
    world, bundle = exported
    result = run(_offline(tmp_path), "archive", "verify", str(bundle))
    assert result.exit_code == 0, result.output
    assert "the archive of 2026 is intact" in result.stdout
    members = _members(bundle)
    pdfs = sorted(n for n in members if n.endswith(".pdf"))
    assert pdfs == [
        f"{TOP}/documents/2026-10-20_津和社保催〔2026〕第000001号.pdf",
        f"{TOP}/documents/2026-10-20_津和社保催〔2026〕第000002号.pdf",
    ]
    assert all(members[p].startswith(b"%PDF") for p in pdfs)
    manifest = json.loads(members[f"{TOP}/manifest.json"])
    assert manifest["year"] == 2026 and manifest["retention_until"] == "2036-12-31"
    categories = {c["key"]: c for c in manifest["categories"]}
    assert list(categories) == [
        "documents",
        "reports",
        "statistics",
        "summaries",
        "publicity",
        "circulars",
        "information",
    ]
    assert categories["documents"]["title"] == "文件资料类"
    assert categories["statistics"]["files"] == 24  # twelve months, CSV and XLSX
    assert categories["reports"]["files"] == 10  # four quarters and the officers, both kinds
    october = members[f"{TOP}/statistics/monthly-progress-2026-10.csv"].decode("utf-8-sig")
    assert "和平区" in october
    assert f"{TOP}/reports/quarterly-assessment-2026-Q4.xlsx" in members
    assert f"{TOP}/reports/officer-activity-2026.csv" in members
    texts = members[f"{TOP}/publicity/sms-and-voice.csv"].decode()
    assert "贵单位欠缴社会保险费" in texts
    cases = list(csv.DictReader(io.StringIO(members[f"{TOP}/information/cases.csv"].decode())))
    assert {int(r["case_id"]) for r in cases} == {world.a, world.b, world.hexi}
    record = json.loads(members[f"{TOP}/information/cases/case-{world.a:07d}.json"])
    assert record["employer"][0]["name"] == "天津甲商贸有限公司"
    assert {n["step"] for n in record["notice"]} >= {"reminder_letter", "sms_reminder"}
    assert sorted(n for n in members if "/log-heads/" in n) == [
        f"{TOP}/information/log-heads/heads-2026-10-20-000001.txt",
        f"{TOP}/information/log-heads/heads-2026-11-03-000002.txt",
    ]
    assert f"{TOP}/circulars/disclosure-2026-Q4.csv" in members
    summary = json.loads(members[f"{TOP}/summaries/year-summary.json"])
    assert summary["cases"] == 3
    with store.session() as session:
        recorded = session.execute(select(ArchiveExport)).scalar_one()
    assert recorded.year == 2026 and recorded.retention_until == date(2036, 12, 31)
    digest = hashlib.sha256(members[f"{TOP}/manifest.json"]).hexdigest()
    assert recorded.manifest_sha256 == digest and digest in result.stdout
    # Unpacked into a folder, it verifies the same way.
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    unpacked = run(_offline(tmp_path), "archive", "verify", str(tmp_path / "unpacked" / TOP))
    assert unpacked.exit_code == 0, unpacked.output


def test_a_changed_pdf_is_named(exported: tuple[World, Path], tmp_path: Path) -> None:
    _world, bundle = exported
    name = f"{TOP}/documents/2026-10-20_津和社保催〔2026〕第000002号.pdf"
    data = bytearray(_members(bundle)[name])
    data[len(data) // 2] ^= 0x01
    _rewrite(bundle, {name: bytes(data)})
    result = run(_offline(tmp_path), "archive", "verify", str(bundle))
    assert result.exit_code == 1
    assert f"{name}: sha256" in result.stdout and "the file was changed" in result.stdout
    assert "not intact" in result.stdout


def test_an_edited_event_is_named_with_case_and_position(
    exported: tuple[World, Path], tmp_path: Path
) -> None:
    world, bundle = exported
    members = _members(bundle)
    name = f"{TOP}/information/event-log.jsonl"
    lines = members[name].decode().splitlines(keepends=True)
    index, event = next(
        (i, json.loads(line))
        for i, line in enumerate(lines)
        if json.loads(line)["case_id"] == world.a and json.loads(line)["seq"] == 2
    )
    event["message"] = "the employer paid everything"
    lines[index] = json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n"
    edited = "".join(lines).encode()
    # Even with the manifest made to agree, the chain shows the edit.
    _rewrite(bundle, _resign(members, name, edited))
    result = run(_offline(tmp_path), "archive", "verify", str(bundle))
    assert result.exit_code == 1
    assert f"line {index + 1}: case {world.a}, position 2" in result.stdout
    assert "changed after it was written" in result.stdout


def test_a_changed_manifest_is_found(exported: tuple[World, Path], tmp_path: Path) -> None:
    _world, bundle = exported
    members = _members(bundle)
    manifest = json.loads(members[f"{TOP}/manifest.json"])
    manifest["retention_until"] = "2028-12-31"
    _rewrite(bundle, {f"{TOP}/manifest.json": json.dumps(manifest).encode()})
    result = run(_offline(tmp_path), "archive", "verify", str(bundle))
    assert result.exit_code == 1
    assert f"{TOP}/manifest.json: its sha256" in result.stdout
    assert "the manifest was changed" in result.stdout


def test_a_file_added_or_removed_is_found(exported: tuple[World, Path], tmp_path: Path) -> None:
    _world, bundle = exported
    members = _members(bundle)
    del members[f"{TOP}/circulars/disclosure-2026-Q1.csv"]
    members[f"{TOP}/documents/extra.pdf"] = b"%PDF-1.7 planted"
    _write(bundle, members)
    result = run(_offline(tmp_path), "archive", "verify", str(bundle))
    assert result.exit_code == 1
    assert "circulars/disclosure-2026-Q1.csv: listed in the manifest but missing" in result.stdout
    assert "documents/extra.pdf: in the bundle but not in the manifest" in result.stdout


def test_an_export_is_not_overwritten_and_a_year_not_over_is_refused(
    exported: tuple[World, Path], store: App, db_env: dict[str, str]
) -> None:
    again = run(db_env, "archive", "export", "--year", "2026", "--as-of", "2027-01-06")
    assert again.exit_code == 1 and "already there: --force replaces it" in again.stderr
    early = run(db_env, "archive", "export", "--year", "2026", "--as-of", "2026-12-31")
    assert early.exit_code == 1 and "the year 2026 is not over" in early.stderr
    forced = run(db_env, "archive", "export", "--year", "2026", "--as-of", "2027-01-06", "--force")
    assert forced.exit_code == 0, forced.output
    folder = store.settings.data_dir / "archives"
    assert sorted(p.name for p in folder.iterdir()) == ["arrears-archive-2026.tar"]  # no leftovers
    listed = run(db_env, "archive", "list")
    assert listed.stdout.count("arrears-archive-2026.tar") == 2


def test_a_changed_heads_file_in_the_bundle_is_named(
    exported: tuple[World, Path], tmp_path: Path
) -> None:
    _world, bundle = exported
    members = _members(bundle)
    name = f"{TOP}/information/log-heads/heads-2026-10-20-000001.txt"
    changed = members[name].replace(b",1,", b",2,", 1)
    assert changed != members[name]
    _rewrite(bundle, _resign(members, name, changed))
    result = run(_offline(tmp_path), "archive", "verify", str(bundle))
    assert result.exit_code == 1
    assert f"{name}: the digest does not match the file: it was changed" in result.stdout


def test_a_log_tampered_in_the_store_is_not_archived(
    store: App, db_env: dict[str, str], tmp_path: Path
) -> None:
    world = _year(store, tmp_path)
    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            connection.execute(text("DROP TRIGGER case_event_no_update"))
        connection.execute(
            text("UPDATE case_event SET message = 'no letter' WHERE case_id = :a AND seq = 2"),
            {"a": world.a},
        )
    result = run(db_env, "archive", "export", "--year", "2026", "--as-of", "2027-01-05")
    assert result.exit_code == 1
    assert "does not verify, nothing was written" in result.stderr
    assert f"case {world.a}, position 2" in result.stderr
    folder = store.settings.data_dir / "archives"
    assert list(folder.iterdir()) == []
