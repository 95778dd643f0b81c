"""The per-request health check of a persistent PostgreSQL connection (``config.postgresql``).

An idle, healthy connection is usable without Django's ``SELECT 1`` (a round trip
before every webhook's first query); one the server has terminated is still found
unusable, so the next request opens a new connection instead of failing a caller's.
"""

from __future__ import annotations

import os
import time
from unittest import mock

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def test_an_idle_healthy_connection_is_usable_without_a_round_trip():
    connection.ensure_connection()
    with mock.patch.object(django_postgresql.DatabaseWrapper, "is_usable", side_effect=AssertionError("SELECT 1")):
        assert connection.is_usable()


def test_a_connection_the_server_terminated_is_unusable_and_replaced_before_the_next_query():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)  # the server's goodbye reaches the socket
    assert not connection.is_usable()
    connection.health_check_done = False
    connection.close_if_health_check_failed()  # what the next request does first
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
