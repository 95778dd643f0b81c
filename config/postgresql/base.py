"""Django's PostgreSQL backend with a health check that costs no round trip while the connection is idle and well.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection at the start of every
request with ``SELECT 1``: a round trip before the first query of each webhook, on a path
where a step's whole work is one to six of them (issue 14). The check exists for a
connection the server has dropped (a restart, a terminated backend, an idle timeout). A
server that drops a connection says so on the socket first (a FATAL message, then EOF),
so an idle connection whose socket has nothing to read, in an idle transaction state, is
usable; anything else (readable socket, a broken or non-idle connection) gets Django's
``SELECT 1`` as before. A connection lost without a word (a cable cut) is found by the
first query either way, and the view's fault handling answers that caller.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return bool(super().is_usable())
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError):
            return False
        if not readable:
            return True
        return bool(super().is_usable())
