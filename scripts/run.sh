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
echo
echo "Clearline is running on http://$HOST:$PORT/  (staff admin: /${ADMIN_URL:-admin/}, partner portal: /portal/, API docs: /api/docs/)"
echo "Stop with Ctrl-C."
if [ -n "${REDIS_URL:-}" ]; then
  # Real services: a Celery worker with the beat scheduler beside the web server.
  .venv/bin/celery -A config worker --beat --loglevel INFO --concurrency 2 &
  WORKER_PID=$!
  trap 'kill $WORKER_PID 2>/dev/null || true' EXIT
else
  # Embedded: no broker, so the periodic tasks (callback sweeper, retention, invoices) run in a loop here.
  .venv/bin/python manage.py run_periodic &
  WORKER_PID=$!
  trap 'kill $WORKER_PID 2>/dev/null || true' EXIT
fi
exec .venv/bin/gunicorn config.wsgi:application --bind "$HOST:$PORT" --workers 2 --threads 4 \
  --timeout 30 --access-logfile - --env DJANGO_SETTINGS_MODULE="$DJANGO_SETTINGS_MODULE"
