#!/usr/bin/env bash
# Set everything up and run the main job on the embedded default (SQLite under ./var, no
# credentials, SMS kept in the outbox): generate a sample ledger of a few hundred Tianjin employers
# and their bank payments, import both, run the nightly escalation over 90 simulated nights, and
# end with a summary: where the cases stand, and where the letters and print batches are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
arrears=.venv/bin/arrears
py=.venv/bin/python
data=${ARREARS_DATA_DIR:-var}
today=$(TZ=Asia/Shanghai date +%F)
last=$(TZ=Asia/Shanghai date -d "$today + ${NIGHTS:-90} days - 1 day" +%F)

$arrears init
$arrears sample ledger --rows "${ROWS:-2400}" --as-of "$today" --out "$data/sample/ledger.csv"
$arrears sample payments --ledger "$data/sample/ledger.csv" --as-of "$today" --out "$data/sample/payments.csv"
$arrears import-ledger "$data/sample/ledger.csv" --as-of "$today"
$arrears import-payments "$data/sample/payments.csv" --as-of "$today"
$arrears escalate --as-of "$today" --dry-run --limit 5

# The nights from today on; a rerun of the job finds them done and says so.
if ! $arrears runs list --json | $py -c 'import json,sys; sys.exit(0 if json.load(sys.stdin) else 1)'; then
  $arrears simulate --from "$today" --to "$last"
else
  echo "nights already run: see 'arrears runs list'"
fi

echo
echo "== where the cases stand"
$arrears cases list --all --as-of "$last" --json | $py -c '
import collections, json, sys
cases = json.load(sys.stdin)
by = collections.Counter((c["status"], c["stage"]) for c in cases)
owed = sum(float(c["total_due"]) for c in cases)
print(f"{len(cases)} cases, {owed:,.2f} yuan still owed")
for (status, stage), n in sorted(by.items(), key=lambda kv: -kv[1]):
    print(f"  {n:5}  {status:12} {stage}")'
$arrears cases list --as-of "$last" --limit 5

echo
echo "== letters and print batches"
for day in $($arrears letters list --json | $py -c '
import json, sys
print(" ".join(sorted({l["issued_on"] for l in json.load(sys.stdin)})))'); do
  $arrears letters batch --date "$day" > /dev/null
done
$arrears letters list --json | $py -c '
import json, sys
letters = json.load(sys.stdin)
print(f"{len(letters)} letters filed under '"$data"'/documents/ (by sha256)")'
echo "print batches (one PDF and one manifest per day): $data/print/"
ls "$data/print" | head -3
echo "SMS kept in the outbox: $($arrears notices list --channel sms --status outbox --json | $py -c 'import json,sys; print(len(json.load(sys.stdin)))')"
echo "nightly runs: $arrears runs list"
