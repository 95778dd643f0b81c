"""Celery tasks of the helpline app (admission requests).

Every task takes an id, is enqueued after the transaction commits, and may run
twice: the services it calls claim their work with a compare-and-set, so a
second delivery (late ack after a worker died, the sweeper racing a retry)
does nothing. Failures retry with exponential backoff; whatever still fails
is picked up again by ``sweep_admission_requests`` from the rows themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.utils import timezone

from helpline.admission import selectors as admission_selectors
from helpline.admission import services as admission

logger = logging.getLogger(__name__)

MAX_RETRIES = 6
SWEEP_BATCH = 200


def _backoff(retries: int) -> int:
    """15 s, 30 s, 60 s ... capped at 10 minutes."""
    return int(min(600, 15 * 2**retries))


def _retry(task: Any, exc: Exception) -> None:
    """Retry with backoff on a worker; run eagerly (embedded mode, inside a web request) leave it to the sweeper.

    An eager retry would run again at once, in the request of the person who
    just pressed "send", ignoring the countdown.
    """
    if task.request.is_eager:
        return
    raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from None


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, name="helpline.tasks.route_admission_request")
def route_admission_request(self: Any, request_id: int) -> None:
    try:
        admission.admission_request_route(request_id=request_id)
    except Exception as exc:  # noqa: BLE001 - any failure is retried with backoff; the sweeper is the backstop
        logger.warning("Routing request %s failed (%s); retrying", request_id, type(exc).__name__)
        _retry(self, exc)


@shared_task(
    bind=True, max_retries=MAX_RETRIES, acks_late=True, name="helpline.tasks.notify_partner_of_admission_request"
)
def notify_partner_of_admission_request(self: Any, request_id: int) -> None:
    try:
        admission.admission_request_notify(request_id=request_id)
    except Exception as exc:  # noqa: BLE001 - any failure is retried with backoff; the sweeper is the backstop
        if self.request.retries >= self.max_retries:
            # Out of retries: go on to the callback anyway (it reaches the partner by phone) and flag it.
            logger.error("Notifying the partner of request %s failed for good; calling back anyway", request_id)
            admission.admission_request_mark_notified(
                request_id=request_id, now=timezone.now(), note="partner notification failed; callback goes ahead"
            )
            from helpline.models import AdmissionRequest

            AdmissionRequest.objects.filter(id=request_id).update(needs_attention=True)
            return
        logger.warning("Notifying the partner of request %s failed (%s); retrying", request_id, type(exc).__name__)
        _retry(self, exc)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, name="helpline.tasks.place_admission_callback")
def place_admission_callback(self: Any, request_id: int) -> None:
    try:
        admission.admission_request_place_callback(request_id=request_id)
    except Exception as exc:  # noqa: BLE001 - any failure is retried with backoff; the sweeper is the backstop
        logger.warning("Placing the callback for request %s failed (%s); retrying", request_id, type(exc).__name__)
        _retry(self, exc)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, name="helpline.tasks.text_caller_missed_callback")
def text_caller_missed_callback(self: Any, request_id: int, round_number: int) -> None:
    try:
        admission.admission_request_text_caller_missed(request_id=request_id, round_number=round_number)
    except Exception as exc:  # noqa: BLE001 - any failure is retried with backoff; the sweeper is the backstop
        _retry(self, exc)


def _publish(task: Any, *args: Any) -> bool:
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 - broker down: the next sweep tries again
        logger.warning("Sweeper could not enqueue %s", task.name)
        return False
    return True


@shared_task(acks_late=True, name="helpline.tasks.sweep_admission_requests")
def sweep_admission_requests() -> dict[str, int]:
    """Re-enqueue what is stuck or due: never routed, never notified, callbacks due now.

    Runs every minute (``CELERY_BEAT_SCHEDULE``). Safe to overlap with itself and
    with the tasks: each task claims its request before doing anything.
    """
    now = timezone.now()
    counts = {"route": 0, "notify": 0, "callback": 0}
    for request_id in admission_selectors.requests_to_route(now=now).values_list("id", flat=True)[:SWEEP_BATCH]:
        counts["route"] += _publish(route_admission_request, request_id)
    for request_id in admission_selectors.requests_to_notify(now=now).values_list("id", flat=True)[:SWEEP_BATCH]:
        counts["notify"] += _publish(notify_partner_of_admission_request, request_id)
    for request_id in admission_selectors.requests_due_for_callback(now=now).values_list("id", flat=True)[:SWEEP_BATCH]:
        counts["callback"] += _publish(place_admission_callback, request_id)
    if any(counts.values()):
        logger.info("Admission sweep enqueued %s", counts)
    return counts
