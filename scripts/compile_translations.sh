#!/usr/bin/env bash
# The web app's message catalogs (web/locale/<lang>/LC_MESSAGES/messages.po → .mo).
#   bash scripts/compile_translations.sh          compile the .po files (setup.sh runs this)
#   bash scripts/compile_translations.sh update   first extract the strings of web/ and cases/
#                                                 (the domain's N_() message ids) into
#                                                 web/locale/messages.pot and merge them into
#                                                 each catalog; then translate what is new
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}

if [ "${1:-}" = "update" ]; then
  "$PYBABEL" --quiet extract -F babel.cfg --no-location --sort-output \
    --project=arrears --version=0.1.0 --copyright-holder="arrears" -o web/locale/messages.pot web cases
  "$PYBABEL" --quiet update -i web/locale/messages.pot -d web/locale -D messages \
    --no-fuzzy-matching --ignore-obsolete
fi
"$PYBABEL" --quiet compile -d web/locale -D messages
