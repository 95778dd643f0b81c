#!/usr/bin/env bash
# Validate docker-compose.yml offline (no Docker engine needed) with Debian's docker-compose.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-compose >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null
fi
created_env=""
if [ ! -f .env ]; then
  # Placeholder values so interpolation and env_file are checked; removed afterwards.
  sed 's/=$/=placeholder/' .env.example > .env
  created_env=1
fi
cleanup() { [ -n "$created_env" ] && rm -f .env; }
trap cleanup EXIT
POSTGRES_PASSWORD=${POSTGRES_PASSWORD:-placeholder} docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml is valid"
