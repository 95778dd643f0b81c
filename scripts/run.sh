#!/usr/bin/env bash
# Install, migrate, load demo data and serve Clearline on http://127.0.0.1:8000.
# With no DATABASE_URL / REDIS_URL set this is the embedded default (SQLite file,
# Celery tasks run in-process); set both to use PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements/base.txt

export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
.venv/bin/python manage.py seed_demo

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
WORKER_PID=""
WEB_PID=""
# Stop both children however this script ends (gunicorn exits, Ctrl-C, kill). Background
# jobs of a non-interactive shell ignore SIGINT, so Ctrl-C alone would leave the worker
# running: it is sent SIGTERM here, and gunicorn too.
stop_children() {
  trap - EXIT INT TERM
  for pid in $WEB_PID $WORKER_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${REDIS_URL:-}" ]; then
  # Real services: a Celery worker with the beat scheduler beside the web server.
  .venv/bin/celery -A config worker --beat --loglevel INFO --concurrency 2 &
else
  # Embedded: no broker, so the periodic tasks (callback sweeper, retention, invoices) run in a loop here.
  .venv/bin/python manage.py run_periodic &
fi
WORKER_PID=$!

# Settings, including the access log format without query strings: config/gunicorn.conf.py.
GUNICORN_BIND="$HOST:$PORT" WEB_CONCURRENCY=${WEB_CONCURRENCY:-2} \
  .venv/bin/gunicorn -c config/gunicorn.conf.py &
WEB_PID=$!

# Say "running" only once the server answers. 503 is an answer too (Redis or the broker is
# down; calls still route), so it is reported rather than waited on.
case "$HOST" in 0.0.0.0 | "") PROBE_HOST=127.0.0.1 ;; *) PROBE_HOST=$HOST ;; esac
health=""
for _ in $(seq 1 120); do
  if ! kill -0 "$WEB_PID" 2>/dev/null; then
    echo "gunicorn exited before answering on $HOST:$PORT" >&2
    exit 1
  fi
  health=$(.venv/bin/python - "http://$PROBE_HOST:$PORT/healthz" <<'PY' || true
import sys
import urllib.error
import urllib.request

try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as answered:
    print(answered.code)
except OSError:
    sys.exit(1)
PY
)
  [ -n "$health" ] && break
  sleep 0.5
done
if [ -z "$health" ]; then
  echo "no answer from http://$PROBE_HOST:$PORT/healthz after 60 s" >&2
  exit 1
fi
echo
echo "Clearline is running on http://$HOST:$PORT/  (staff admin: /${ADMIN_URL:-admin/}, partner portal: /portal/, API docs: /api/docs/)"
if [ "$health" != "200" ]; then
  echo "Warning: /healthz answered $health; see it for which service is down."
fi
echo "Stop with Ctrl-C."
# In the foreground, but not exec'd: the traps above stay in force. `wait` returns early
# when a trapped signal arrives, so Ctrl-C is handled at once.
wait "$WEB_PID"
