"""Benchmark the daily PR/PO sync (coupa/requisitions/status_sync.py) against the sandbox.

The sandbox is seeded with N open requisitions created by the API user, a share of them
ordered into purchase orders (`--api-requisitions`, `--api-ordered-share`; docs/sandbox.md
"Seeded API requisitions"). They are stored as Requisition rows (one PurchaseRequest
each) without any HTTP, as `pending_approval`; then one daily pass runs. Its requests are
counted by the sandbox and compared with the bound, ceil(N / 50) status calls plus
ceil(ordered / 50) PO calls, and with a one-call-per-PR baseline (one GET per
requisition, one per ordered requisition's POs).

Uses a throwaway test database (Postgres when DATABASE_URL is set).

Run: .venv/bin/python bench/pr_sync_bench.py [--requisitions 10000] [--ordered-share 0.2]
     [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendflo.settings")
os.environ.setdefault("SPENDFLO_IGNORE_DOTENV", "1")
os.environ.setdefault("SECRET_KEY", "bench-only")
if "FIELD_ENCRYPTION_KEY" not in os.environ:
    from cryptography.fernet import Fernet

    os.environ["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection as db  # noqa: E402
from django.utils import timezone  # noqa: E402


def bench(n: int, share: float, rate: float) -> dict[str, Any]:
    from coupa.models import Requisition
    from coupa.requisitions.status_sync import requisition_sync
    from coupa.sandbox.testing import running_sandbox
    from integrations.crypto import encrypt
    from integrations.models import Connection
    from spendflo.organizations.models import Organization
    from spendflo.users.models import User
    from spendflo.workflows.models import PurchaseRequest, Workflow, WorkflowVersion

    with running_sandbox(
        rate=rate,
        requisitions=0,
        api_requisitions=n,
        api_ordered_share=share,
        users=30,
        startup_timeout=600,
    ) as sandbox:
        settings.COUPA_ALLOWED_HOSTS = [sandbox.base_url]
        org = Organization.objects.create(slug=f"bench-{time.time_ns()}", name="Bench")
        conn = Connection.objects.create(
            organization=org,
            host=sandbox.base_url.split("//")[1],
            base_url=sandbox.base_url,
            provider_settings={"client_id": sandbox.client_id, "post_token_pause": 0.0},
            secret_encrypted=encrypt(sandbox.client_secret),
            state=Connection.State.CONNECTED,
            rate_limit=rate or 5000.0,
            rate_burst=500,
        )
        user = User.objects.create(
            organization=org, email="bench@example.test", username="bench@example.test"
        )
        workflow = Workflow.objects.create(organization=org, name="Bench")
        version = WorkflowVersion.objects.create(
            workflow=workflow, number=1, state=WorkflowVersion.State.PUBLISHED
        )
        ids = sandbox.ids("requisitions")
        ordered = sum(1 for r in sandbox.records("purchase_orders"))
        now = timezone.now()
        t = time.perf_counter()
        requests = PurchaseRequest.objects.bulk_create(
            [
                PurchaseRequest(
                    organization=org,
                    version=version,
                    requester=user,
                    number=i + 1,
                    title=f"Bench {i + 1}",
                    state=PurchaseRequest.State.PR_CREATED,
                    submitted_at=now,
                )
                for i in range(len(ids))
            ],
            batch_size=2000,
        )
        Requisition.objects.bulk_create(
            [
                Requisition(
                    request=request,
                    connection=conn,
                    marker=f"SF-bench-{i}",
                    state=Requisition.State.CREATED,
                    submit=True,
                    external_id=coupa_id,
                    status="pending_approval",
                )
                for i, (request, coupa_id) in enumerate(zip(requests, ids, strict=True))
            ],
            batch_size=2000,
        )
        stored_s = time.perf_counter() - t
        sandbox.reset_stats()
        t = time.perf_counter()
        run = requisition_sync(connection=conn, mode="daily")
        seconds = time.perf_counter() - t
        stats = sandbox.stats()
        by_endpoint = stats["by_endpoint"]
        status_calls = sum(v for k, v in by_endpoint.items() if k.endswith("/api/requisitions"))
        po_calls = sum(v for k, v in by_endpoint.items() if k.endswith("/api/purchase_orders"))
        counts = run.counts.get("requisitions", {})
        ordered_rows = Requisition.objects.filter(connection=conn, status="ordered").count()
        from coupa.models import PurchaseOrder

        pos = PurchaseOrder.objects.filter(connection=conn).count()
        bound_status = math.ceil(len(ids) / 50)
        bound_po = math.ceil(ordered_rows / 50)
        return {
            "requisitions": len(ids),
            "ordered": ordered_rows,
            "purchase_orders_in_sandbox": ordered,
            "purchase_orders_stored": pos,
            "run_state": run.state,
            "run_error": run.error,
            "status_changes": counts.get("updated", 0),
            "requests_total": run.requests,
            "status_calls": status_calls,
            "po_calls": po_calls,
            "bound_status_calls": bound_status,
            "bound_po_calls": bound_po,
            "within_bound": status_calls <= bound_status and po_calls <= bound_po,
            "baseline_one_call_per_pr": len(ids) + ordered_rows,
            "seconds": round(seconds, 2),
            "store_rows_seconds": round(stored_s, 2),
        }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requisitions", type=int, default=10_000)
    p.add_argument("--ordered-share", type=float, default=0.2)
    p.add_argument("--rate", type=float, default=0.0, help="sandbox rate limit (0 = none)")
    p.add_argument("--quick", action="store_true", help="120 requisitions")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    n = 120 if args.quick else args.requisitions
    db_name = db.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        result = bench(n, args.ordered_share, args.rate)
    finally:
        from integrations.ratelimit import release_db_connections

        release_db_connections()
        db.creation.destroy_test_db(db_name, verbosity=0)
    result["database"] = db.vendor
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['requisitions']} open PRs, {result['ordered']} ordered "
        f"({result['purchase_orders_stored']} POs stored of {result['purchase_orders_in_sandbox']}); "
        f"database {result['database']}"
    )
    print(
        f"daily sync: {result['run_state']} in {result['seconds']} s, {result['requests_total']} "
        f"requests: {result['status_calls']} status calls (bound {result['bound_status_calls']}), "
        f"{result['po_calls']} PO calls (bound {result['bound_po_calls']}); "
        f"one call per PR would be {result['baseline_one_call_per_pr']}"
    )
    if result["run_error"]:
        print(f"error: {result['run_error']}")
    return 0 if result["within_bound"] and result["run_state"] == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
