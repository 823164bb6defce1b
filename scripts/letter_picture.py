"""Make the README's picture: page one of a sample reminder letter, as printed by arrears.

Run with the project's interpreter: ``.venv/bin/python scripts/letter_picture.py [OUT.png]``.
It builds a throwaway case store, imports a one-employer ledger, issues a reminder letter through
the same path officers use, and turns the PDF's first page into a PNG with pdftoppm.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from arrears.settings import REPO_ROOT, Settings
from arrears.wiring import App
from cases.importers import LEDGER_COLUMNS, read_ledger
from cases.intake import import_ledger

ROWS = [
    ("2026-07", "pension", "18640.00", "2026-08-15"),
    ("2026-07", "medical", "6524.00", "2026-08-15"),
    ("2026-08", "pension", "18640.00", "2026-09-15"),
    ("2026-08", "medical", "6524.00", "2026-09-15"),
    ("2026-08", "unemployment", "466.00", "2026-09-15"),
]
ISSUED = date(2026, 11, 26)


def main(out: Path) -> None:
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm is missing: install poppler-utils (scripts/setup.sh does)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ledger = folder / "ledger.csv"
        with ledger.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(LEDGER_COLUMNS)
            for period, insurance, amount, due in ROWS:
                writer.writerow(
                    [
                        "91120101MA05J8XU9P",
                        "天津市和平区海河商贸有限公司",
                        "和平区",
                        period,
                        insurance,
                        amount,
                        due,
                        "declared_unpaid",
                        "张伟",
                        "13812345678",
                        "天津市和平区南京路1号",
                    ]
                )
        app = App(Settings(data_dir=folder / "var", database_url=None))
        app.init_db()
        parsed = read_ledger(ledger)
        if parsed.errors:
            sys.exit("\n".join(str(e) for e in parsed.errors))
        with app.session() as session:
            import_ledger(
                session=session,
                rows=parsed.rows,
                file_name=ledger.name,
                sha256="sample",
                today=ISSUED,
                policy=app.policy_ref,
            )
        with app.session() as session:
            (letter,) = app.letter_desk(session).issue(
                case_id=1, step_kind="reminder_letter", issued_on=ISSUED, actor="sample"
            )
        stem = folder / "page"
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(letter.path),
                str(stem),
            ],
            check=True,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stem.with_suffix(".png"), out)
        size = letter.path.stat().st_size
        print(f"{out}: page 1 of {letter.document_number} ({letter.pages} page(s), {size:,} bytes)")


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else REPO_ROOT / "docs" / "sample-reminder-letter.png"
    )
