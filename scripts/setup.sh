#!/usr/bin/env bash
# Set up arrears on a Debian machine: system packages, then .venv/ with the project and its tools.
# Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  # Install Debian packages that are missing; needs root (or sudo) and the Debian mirrors.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Printing letters (WeasyPrint): Pango, and HarfBuzz's subsetter, without which WeasyPrint subsets
# fonts with fontTools and a Chinese letter takes ~20 s instead of ~0.1 s; fontconfig's fc-list,
# which the app asks for a Chinese font before printing. Fonts (templates/letters/letter.css):
# AR PL UMing, a Song/Ming serif (chosen by size and speed: ~90 KB, ~90 ms a letter, against
# ~350 KB, ~165 ms with Noto Serif CJK); WenQuanYi Zen Hei for the rare characters UMing lacks;
# Liberation Serif for Latin letters and figures.
apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig \
  fonts-arphic-uming fonts-wqy-zenhei fonts-liberation2
# pdftoppm turns a letter's page into the PNG the README shows (scripts/letter_picture.py).
apt_install poppler-utils
# The end-to-end tests (tests/e2e) drive the web app in Debian's Chromium through Playwright's
# Python package; Playwright's own browser downloads are not needed.
apt_install chromium

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  apt_install python3 python3-venv python3-dev
  PYTHON=python3
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: arrears needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the declared dependencies changed since the last run.
stamp=.venv/.arrears-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing arrears and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  echo "$want" > "$stamp"
fi

# The web app's translations: .po catalogs → the .mo files it loads (web/pages.py).
bash scripts/compile_translations.sh
