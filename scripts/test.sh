#!/usr/bin/env bash
# Install everything the tests use (Python packages, Debian's chromium for the
# browser tests, gettext) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements/dev.txt

# Debian's chromium for the browser tests; GNU gettext for the test that reruns makemessages.
if [ ! -x /usr/bin/chromium ] || ! command -v xgettext >/dev/null; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && apt-get install -y -qq chromium gettext >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium gettext >/dev/null
  fi
fi

export DJANGO_SETTINGS_MODULE=config.settings.test
exec .venv/bin/pytest "$@"
