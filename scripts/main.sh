#!/usr/bin/env bash
# Set everything up and run the main job on the embedded default (SQLite under ./var, no
# credentials): generate a sample Tianjin ledger and bank payments, import both, and decide every
# open case's next step of the escalation ladder as of today, then take tonight's steps (SMS to
# the outbox, letters printed); issue reminder letters for the largest debts by hand and print the
# day's batch for the post room.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
arrears=.venv/bin/arrears
data=${ARREARS_DATA_DIR:-var}
today=$(TZ=Asia/Shanghai date +%F)

$arrears init
$arrears sample ledger --rows "${ROWS:-1200}" --as-of "$today" --out "$data/sample/ledger.csv"
$arrears sample payments --ledger "$data/sample/ledger.csv" --as-of "$today" --out "$data/sample/payments.csv"
$arrears import-ledger "$data/sample/ledger.csv" --as-of "$today"
$arrears import-payments "$data/sample/payments.csv" --as-of "$today"
$arrears cases list --as-of "$today" --limit 15
$arrears escalate --as-of "$today" --dry-run --limit 10
# Tonight's steps for real: with no Twilio credentials the SMS stay in the outbox; employers without
# a mobile number get the reminder as a letter.
$arrears escalate --as-of "$today"
$arrears notices list --channel sms --date "$today" --json \
  | .venv/bin/python -c 'import json, sys; n = json.load(sys.stdin); print(f"{len(n)} SMS in the outbox, e.g.:", n[0]["body"] if n else "-")' 

# Reminder letters for the three largest debts, then the day's print batch for the post room.
for code in $($arrears cases list --as-of "$today" --limit 3 --json \
    | .venv/bin/python -c 'import json, sys; print(" ".join(c["employer_code"] for c in json.load(sys.stdin)))'); do
  $arrears letters issue "$code" --step reminder_letter --as-of "$today"
done
$arrears letters batch --date "$today"
