"""Celery entry points for Coupa work. Thin: each task calls one service."""

from __future__ import annotations

import logging

from celery import shared_task

from coupa.services.connections import connection_validate

logger = logging.getLogger(__name__)


@shared_task(
    name="coupa.connection_validate", acks_late=True, ignore_result=True,
    soft_time_limit=240, time_limit=300,
)
def connection_validate_task(validation_id: int) -> None:
    """Run one connection validation (idempotent: a finished run is left alone)."""
    connection_validate(validation_id=validation_id)


@shared_task(name="coupa.reference_sync_all", acks_late=True, ignore_result=True)
def reference_sync_all_task() -> int:
    """Start the hourly reference-data sync for every connected Coupa connection.

    Returns how many syncs were started. Connections arrive with the connect issue;
    until then there is nothing to sync.
    """
    logger.info("Hourly Coupa reference-data sync: no connected Coupa connections yet.")
    return 0


@shared_task(name="coupa.requisition_sync_all", acks_late=True, ignore_result=True)
def requisition_sync_all_task() -> int:
    """Refresh the status of open requisitions and capture purchase orders (daily)."""
    logger.info("Daily Coupa PR/PO sync: no requisitions to refresh yet.")
    return 0
