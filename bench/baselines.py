"""What a typical integration does, for comparison only (never used by the product).

One page at a time with offset paging (`offset=` / `limit=50`), one ORM save per record,
one status call per PR and one PO lookup per ordered PR. They go through the product's
HTTP client (same rate limiter, retries and `fields`), so the differences measured are
the paging, the writes and the call pattern.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from django.db.models import Model
from django.utils import timezone

from coupa.client.base import CoupaClient, encode_fields, format_datetime
from coupa.client.connection import connection_config
from coupa.client.stats import RequestStats
from coupa.models import ChartOfAccounts, PurchaseOrder, Requisition
from coupa.reference.registry import resource_get
from coupa.requisitions.status_sync import PO_FIELDS, PR_FIELDS
from integrations.models import Connection

PAGE = 50


def baseline_client(connection: Connection, stats: RequestStats) -> CoupaClient:
    """The product's client without its concurrent paging."""
    return CoupaClient(connection_config(connection), stats=stats, concurrency=1)


def offset_pages(
    client: CoupaClient, path: str, params: Mapping[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    """Yield `/api/<path>` one page at a time by offset until a short page."""
    offset = 0
    while True:
        page = client.get(
            f"/api/{path}", {**params, "offset": offset, "limit": PAGE, "order_by": "id"}
        )
        page = page or []
        if page:
            yield page
        if len(page) < PAGE:
            return
        offset += PAGE


def _save_record(
    connection: Connection, resource: str, raw: dict[str, Any], charts: dict[int, int]
) -> None:
    spec = resource_get(resource)
    record = spec.record_type.from_json(raw)
    row = spec.to_row(record)
    row["coupa_updated_at"] = record.updated_at
    if resource == "accounts":
        ext = row.get("chart_external_id")
        row["chart_id"] = charts.get(ext) if ext is not None else None
    now = timezone.now()
    model: type[Model] = spec.model
    obj, created = model.objects.get_or_create(  # type: ignore[attr-defined]
        connection=connection,
        external_id=record.id,
        defaults={**row, "imported_at": now, "synced_at": now},
    )
    if not created:
        for key, value in row.items():
            setattr(obj, key, value)
        obj.synced_at = now
        obj.save()


def baseline_import(
    *,
    connection: Connection,
    resources: list[str],
    since: datetime | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Import `resources` the naive way: active set (or changes `since`), offset paging,
    one save per record; stop after `limit` records when given. Return records,
    requests, 429s and seconds."""
    stats = RequestStats()
    charts = dict(
        ChartOfAccounts.objects.filter(connection=connection, selected=True).values_list(
            "external_id", "pk"
        )
    )
    records = 0
    started = time.perf_counter()
    with baseline_client(connection, stats) as client:
        for resource in resources:
            spec = resource_get(resource)
            params: dict[str, Any] = {"fields": encode_fields(spec.fields)}
            if since is None:
                params.update(spec.active_params())
            else:
                params["updated-at[gt_or_eq]"] = format_datetime(since)
            if resource == "accounts":
                params["account-type[id][in]"] = ",".join(map(str, sorted(charts)))
            for page in offset_pages(client, spec.path, params):
                for raw in page:
                    _save_record(connection, resource, raw, charts)
                    records += 1
                if limit is not None and records >= limit:
                    break
    return {
        "records": records,
        "requests": stats.requests,
        "throttled": stats.throttled_429,
        "seconds": time.perf_counter() - started,
    }


def baseline_pr_sync(*, connection: Connection) -> dict[str, Any]:
    """One status call per open requisition, one PO lookup per ordered one, one save each."""
    stats = RequestStats()
    started = time.perf_counter()
    rows = list(
        Requisition.objects.filter(connection=connection, state=Requisition.State.CREATED)
        .exclude(status__in=["received", "abandoned", "withdrawn"])
        .order_by("external_id")
    )
    checked = ordered = 0
    with baseline_client(connection, stats) as client:
        for requisition in rows:
            record = client.get(
                f"/api/requisitions/{requisition.external_id}",
                {"fields": encode_fields(PR_FIELDS)},
            )
            checked += 1
            requisition.status = record.get("status") or requisition.status
            requisition.synced_at = timezone.now()
            requisition.save()
            if requisition.status not in ("ordered", "partially_received", "received"):
                continue
            ordered += 1
            orders = client.get(
                "/api/purchase_orders",
                {
                    "requisition-header[id]": requisition.external_id,
                    "fields": encode_fields(PO_FIELDS),
                },
            )
            for po in orders or []:
                PurchaseOrder.objects.update_or_create(
                    connection=connection,
                    external_id=po["id"],
                    defaults={
                        "requisition": requisition,
                        "number": po.get("po-number") or "",
                        "status": po.get("status") or "",
                        "synced_at": timezone.now(),
                    },
                )
    return {
        "checked": checked,
        "ordered": ordered,
        "requests": stats.requests,
        "seconds": time.perf_counter() - started,
    }


def baseline_pr_create(*, requisitions: list[Requisition]) -> int:
    """POST each requisition in turn; on an error post it again (up to 3 times) without
    looking it up first. Return how many got an answer with an id."""
    from coupa.client.exceptions import CoupaError
    from coupa.requisitions.payload import RequestInfo, requisition_payload

    created = 0
    if not requisitions:
        return 0
    stats = RequestStats()
    connection = requisitions[0].connection
    with baseline_client(connection, stats) as client:
        for requisition in requisitions:
            request = requisition.request
            built = requisition_payload(
                version=request.version,
                answers=request.answers,
                requester=request.requester,
                info=RequestInfo(title=request.title, number=request.reference, link=""),
            )
            body = dict(built.payload)
            body["req-title"] = f"[{requisition.marker}] {body.get('req-title') or request.title}"[
                :50
            ]
            for _attempt in range(3):
                try:
                    record = client.post("/api/requisitions/submit_for_approval", body)
                except CoupaError:
                    continue
                requisition.external_id = record.get("id")
                requisition.state = Requisition.State.CREATED
                requisition.save()
                created += 1
                break
    return created
