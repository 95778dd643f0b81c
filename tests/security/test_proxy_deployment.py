"""The shipped deployment matches PROXY_COUNT: gunicorn is reachable only through one proxy.

Issue 11, finding 3: docker-compose published gunicorn directly while production settings
trusted one proxy, so a client's own X-Forwarded-For named its address. These read the files
that are deployed (docker-compose.yml, deploy/Caddyfile, Dockerfile, scripts/run.sh); there is
no Docker engine in CI, and `scripts/check-compose.sh` validates the compose file's syntax.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = "config/gunicorn.conf.py"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


@pytest.fixture(scope="module")
def caddyfile() -> str:
    # Comments dropped: only directives count.
    return "\n".join(line.split("#", 1)[0] for line in (ROOT / "deploy/Caddyfile").read_text().splitlines())


def _proxies(services: dict[str, Any]) -> list[str]:
    return [name for name, svc in services.items() if re.match(r"(caddy|nginx)(:|$)", str(svc.get("image", "")))]


def test_only_the_proxy_is_published(services):
    assert _proxies(services) == ["proxy"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"proxy"}
    assert {str(p).split(":")[0] for p in services["proxy"]["ports"]} == {"80", "443"}
    assert services["web"]["expose"] == ["8000"]


def test_web_can_be_scaled(services):
    """`docker compose up --scale web=2` needs no fixed name and no host port on web."""
    web = services["web"]
    assert "container_name" not in web
    assert "ports" not in web
    # Replicas must not race each other to migrate: a one-shot service does it first.
    assert "migrate" not in web["command"]
    assert web["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "migrate" in services["migrate"]["command"]


def test_proxy_count_matches_the_proxies_in_front_of_gunicorn(services):
    assert int(services["web"]["environment"]["PROXY_COUNT"]) == len(_proxies(services)) == 1


def test_proxy_writes_the_forwarded_headers_itself(services, caddyfile):
    """Caddy replaces any client-sent X-Forwarded-For with the peer it saw: exactly one entry."""
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    assert re.search(r"^\s*header_up\s+X-Forwarded-For\s+\{remote_host\}\s*$", caddyfile, re.M)
    assert re.search(r"^\s*header_up\s+X-Forwarded-Proto\s+\{scheme\}\s*$", caddyfile, re.M)
    # Trusting a downstream proxy would let its (or a client's) entries through: PROXY_COUNT=2.
    assert "trusted_proxies" not in caddyfile
    # Load-balanced to every replica by service name, not a single container.
    assert re.search(r"dynamic a \{\s*name web\s*port 8000", caddyfile)
    # No access log at the proxy (it would write query strings).
    assert not re.search(r"^\s*log\b", caddyfile, re.M)


def test_every_way_of_serving_uses_the_one_gunicorn_config(services):
    dockerfile = (ROOT / "Dockerfile").read_text()
    run_sh = (ROOT / "scripts/run.sh").read_text()
    web_command = services["web"]["command"]
    for where, text in {"Dockerfile": dockerfile, "run.sh": run_sh, "docker-compose web": web_command}.items():
        assert GUNICORN_CONF in text, where
        # Nothing re-declares the log settings beside the config file.
        assert "--access-log" not in text, where
    assert not re.search(r"^\s*exec .*gunicorn", run_sh, re.M), "exec would drop the shell's traps"


def test_access_log_format_has_no_query_string_or_referrer():
    conf = runpy.run_path(str(ROOT / GUNICORN_CONF))
    fmt = conf["access_log_format"]
    assert "%(U)s" in fmt
    # r: request line with the query; q: the query; f: referrer (a URL with its query).
    for atom in ("%(r)s", "%(q)s", "%(f)s", "{referer}i", "{raw_uri}e", "{query_string}e"):
        assert atom not in fmt.lower(), atom
    assert conf["accesslog"] == "-"
