"""What must hold after every chaos scenario, once the system has recovered.

Each check compares the product's database with the sandbox (the witness: anything with
the `ids` and `records` of `coupa.sandbox.testing.SandboxHandle`) and returns its
violations, each a sentence; an empty list means the invariant holds. The checks only
read: they never repair what they find.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

#: The records whose Show to Users choice is the admin's, by our resource name.
PICKABLE_RESOURCES = ("accounts", "vendors", "items")
#: Sandbox collections by our resource name (the registry's paths).
SANDBOX_NAMES = {"accounts": "accounts", "vendors": "suppliers", "items": "items"}
#: Coupa statuses a PR created as a draft may have (nothing submits it in the sandbox).
DRAFT_STATUSES = frozenset({"draft"})

Toggles = dict[tuple[str, int], bool]


class Witness(Protocol):
    """The sandbox's view of Coupa, as the chaos run reads it."""

    def ids(self, resource: str, *, active_only: bool = False) -> list[int]: ...

    def records(self, resource: str, *, active_only: bool = False) -> list[dict[str, Any]]: ...


def _model(resource: str) -> Any:
    from coupa.reference.registry import RESOURCES

    return RESOURCES[resource].model


def _duplicates(values: Iterable[int]) -> list[int]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _sample(ids: Iterable[int], limit: int = 5) -> str:
    shown = sorted(ids)
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(str(i) for i in shown[:limit]) + more


def _compare(label: str, ours: list[int], theirs: set[int]) -> list[str]:
    problems = []
    missing = theirs - set(ours)
    extra = set(ours) - theirs
    if missing:
        problems.append(
            f"{label}: {len(missing)} active in Coupa but not imported ({_sample(missing)})."
        )
    if extra:
        problems.append(
            f"{label}: {len(extra)} imported as active but not active in Coupa ({_sample(extra)})."
        )
    dupes = _duplicates(ours)
    if dupes:
        problems.append(f"{label}: Coupa ids imported more than once ({_sample(dupes)}).")
    return problems


def reference_matches(*, connection: Any, sandbox: Witness) -> list[str]:
    """Imported active accounts (per selected chart), vendors and items equal the sandbox's
    active sets: none missing, none extra, no Coupa id twice."""
    from coupa.models import ChartOfAccounts

    problems: list[str] = []
    account_model = _model("accounts")
    charts = ChartOfAccounts.objects.filter(connection=connection, selected=True)
    active_accounts = sandbox.records("accounts", active_only=True)
    for chart in charts.order_by("external_id"):
        theirs = {
            int(r["id"])
            for r in active_accounts
            if int((r.get("account-type") or {}).get("id") or 0) == chart.external_id
        }
        ours = list(
            account_model.objects.filter(
                connection=connection, active=True, chart_external_id=chart.external_id
            ).values_list("external_id", flat=True)
        )
        problems += _compare(f"Accounts of chart {chart.external_id}", ours, theirs)
    all_accounts = list(
        account_model.objects.filter(connection=connection).values_list("external_id", flat=True)
    )
    if dupes := _duplicates(all_accounts):
        problems.append(f"Accounts: Coupa ids imported more than once ({_sample(dupes)}).")
    for resource in ("vendors", "items"):
        model = _model(resource)
        rows = model.objects.filter(connection=connection)
        ours = list(rows.filter(active=True).values_list("external_id", flat=True))
        theirs = set(sandbox.ids(SANDBOX_NAMES[resource], active_only=True))
        problems += _compare(resource.capitalize(), ours, theirs)
        if dupes := _duplicates(rows.values_list("external_id", flat=True)):
            problems.append(
                f"{resource.capitalize()}: Coupa ids imported more than once ({_sample(dupes)})."
            )
    return problems


def toggles_snapshot(*, connection: Any) -> Toggles:
    """Every imported record's Show to Users choice, by (resource, Coupa id)."""
    out: Toggles = {}
    for resource in PICKABLE_RESOURCES:
        rows = _model(resource).objects.filter(connection=connection)
        for external_id, shown in rows.values_list("external_id", "show_to_users"):
            out[(resource, int(external_id))] = bool(shown)
    return out


def toggles_unchanged(*, connection: Any, before: Mapping[tuple[str, int], bool]) -> list[str]:
    """Every record that existed before keeps its Show to Users choice."""
    after = toggles_snapshot(connection=connection)
    changed = [key for key, shown in before.items() if key in after and after[key] != shown]
    gone = [key for key in before if key not in after]
    problems = []
    if changed:
        sample = ", ".join(f"{r} {i}" for r, i in sorted(changed)[:5])
        problems.append(f"Show to Users changed on {len(changed)} records by the sync ({sample}).")
    if gone:
        sample = ", ".join(f"{r} {i}" for r, i in sorted(gone)[:5])
        problems.append(f"{len(gone)} imported records disappeared ({sample}).")
    return problems


def _marker_of(title: str) -> str | None:
    if title.startswith("[") and "]" in title:
        return title[1:].split("]", 1)[0]
    return None


def requisitions_once(*, connection: Any, sandbox: Witness) -> list[str]:
    """Every submitted request has exactly one PR in the sandbox, the one the product
    recorded, with the status it was sent for (draft or submitted for approval)."""
    from coupa.models import Requisition

    by_marker: dict[str, list[dict[str, Any]]] = {}
    for record in sandbox.records("requisitions"):
        marker = _marker_of(str(record.get("req-title") or ""))
        if marker:
            by_marker.setdefault(marker, []).append(record)
    problems = []
    for req in (
        Requisition.objects.filter(connection=connection)
        .select_related("request")
        .order_by("request__number")
    ):
        found = by_marker.get(req.marker, [])
        label = f"Request {req.request.number} ({req.marker})"
        if len(found) != 1:
            problems.append(f"{label} has {len(found)} PRs in Coupa, not one.")
            continue
        (record,) = found
        if req.external_id != int(record["id"]):
            problems.append(
                f"{label}: the product records PR {req.external_id}, Coupa has PR {record['id']}."
            )
        status = str(record.get("status") or "")
        if not req.submit and status not in DRAFT_STATUSES:
            problems.append(f"{label} was sent as a draft but its PR is {status!r}.")
        if req.submit and status in DRAFT_STATUSES:
            problems.append(f"{label} was sent for approval but its PR is still a draft.")
    return problems


def orders_match(*, connection: Any, sandbox: Witness) -> list[str]:
    """Each created PR's status and purchase orders (ids, numbers, statuses) in the
    product equal the sandbox's."""
    from coupa.models import PurchaseOrder, Requisition

    statuses = {int(r["id"]): str(r.get("status") or "") for r in sandbox.records("requisitions")}
    orders: dict[int, dict[int, tuple[str, str]]] = {}
    for po in sandbox.records("purchase_orders"):
        header = int((po.get("requisition-header") or {}).get("id") or 0)
        number = str(po.get("po-number") or po["id"])
        orders.setdefault(header, {})[int(po["id"])] = (number, str(po.get("status") or ""))
    problems = []
    created = Requisition.objects.filter(connection=connection, external_id__isnull=False)
    for req in created.order_by("external_id"):
        pr = int(req.external_id or 0)
        if pr in statuses and req.status != statuses[pr]:
            problems.append(
                f"PR {pr}: the product says {req.status!r}, Coupa says {statuses[pr]!r}."
            )
        ours = {
            int(po.external_id): (po.number, po.status)
            for po in PurchaseOrder.objects.filter(connection=connection, requisition=req)
        }
        theirs = orders.get(pr, {})
        if set(ours) != set(theirs):
            problems.append(
                f"PR {pr}: the product has purchase orders {sorted(ours) or 'none'}, "
                f"Coupa has {sorted(theirs) or 'none'}."
            )
        for po_id in sorted(set(ours) & set(theirs)):
            if ours[po_id] != theirs[po_id]:
                problems.append(
                    f"PO {po_id} of PR {pr}: the product has {ours[po_id]}, Coupa has {theirs[po_id]}."
                )
    return problems


def requests_settled(*, organization: Any) -> list[str]:
    """No request is lost or stuck: each sent request has its PR created, or failed with
    an error an admin can read on the request."""
    from coupa.models import Requisition
    from spendflo.workflows.models import PurchaseRequest

    problems = []
    sent = PurchaseRequest.objects.filter(organization=organization).exclude(
        state__in=[PurchaseRequest.State.AWAITING_APPROVAL, PurchaseRequest.State.REJECTED]
    )
    for request in sent.order_by("number"):
        req = Requisition.objects.filter(request=request).first()
        label = f"Request {request.number}"
        if req is None:
            problems.append(f"{label} was sent but has no requisition: it is lost.")
        elif (
            request.state == PurchaseRequest.State.PR_CREATED
            and req.state != Requisition.State.CREATED
        ):
            problems.append(f"{label} says PR created but its requisition is {req.state}.")
        elif request.state == PurchaseRequest.State.PR_FAILED and not req.error.strip():
            problems.append(f"{label} failed without an error an admin can see.")
        elif request.state == PurchaseRequest.State.SENDING:
            problems.append(f"{label} is stuck sending (requisition {req.state}).")
        if req is not None and req.tries.filter(finished_at__isnull=True).exists():
            problems.append(f"{label} has an attempt left running on its timeline.")
    return problems


def runs_finished(*, connection: Any) -> list[str]:
    """Every sync run and validation of the connection ended in a recorded state; a
    failed one says why."""
    from integrations.models import ConnectionValidation, SyncRun

    problems = []
    for run in SyncRun.objects.filter(connection=connection).order_by("pk"):
        if run.state in SyncRun.LIVE_STATES:
            problems.append(f"Sync run {run.pk} ({run.trigger}) is left {run.state}.")
        elif run.state == SyncRun.State.FAILED and not run.error.strip():
            problems.append(f"Sync run {run.pk} failed without an error.")
    for validation in ConnectionValidation.objects.filter(connection=connection).order_by("pk"):
        if validation.state in (
            ConnectionValidation.State.QUEUED,
            ConnectionValidation.State.RUNNING,
        ):
            problems.append(f"Validation {validation.pk} is left {validation.state}.")
    return problems
