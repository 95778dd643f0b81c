"""Gunicorn settings, the one place they are written.

Used by ``scripts/run.sh``, the Dockerfile and docker-compose alike
(``gunicorn -c config/gunicorn.conf.py``), so the access log cannot drift back
to a format that writes caller data. Environment variables override the bind
address and the process counts; everything else is fixed here.
"""

import os

wsgi_app = "config.wsgi:application"
# The container sets GUNICORN_BIND=0.0.0.0:8000 (reachable only by the proxy on
# the compose network); anywhere else the default stays on loopback.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30

accesslog = "-"
errorlog = "-"
# No query string and no referrer. A staff search by phone is a GET
# (``/admin/...?q=%2B1+512-555-0199``) and the admin carries it on every later
# page in ``_changelist_filters``; gunicorn's default format writes the request
# line (%(r)s, path *with* query) and the referrer (%(f)s, the previous page's
# URL with its query), and this log does not pass through the redacting filter.
# %(U)s is the path alone. The user agent is kept; it names no caller.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's server hook
    """Warm the routing data in each worker before it takes a request, so the first caller after a
    deploy or a worker restart does not wait for the ZIP tables and the directory compile (about 1 s,
    and seconds more with a large directory). A failure (the database not up yet) is logged and the
    first call warms it as before."""
    import time

    from django.db import connections
    from django.utils import timezone

    from routing.selectors import warm

    started = time.perf_counter()
    try:
        directory = warm(now=timezone.now())
        seconds = time.perf_counter() - started
        worker.log.info("routing warmed: %d facilities in %.2fs", len(directory.facilities), seconds)
    except Exception:  # noqa: BLE001 - never keep a worker from serving over a warm-up
        worker.log.warning("routing not warmed (the first call will do it)", exc_info=True)
    finally:
        connections.close_all()  # opened in this thread; requests run on their own threads and connections
