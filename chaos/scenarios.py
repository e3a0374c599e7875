"""The chaos run's scenarios: work under the sandbox's fault mix while workers are killed,
then recovery by the product's own mechanisms, then the invariants.

A scenario has three phases:

1. chaos: the fault mix is on; the work is asked for the way the product asks for it
   (a sync request, requests sent to Coupa, the PR/PO passes), and workers are SIGKILLed
   at random moments while it is under way, then restarted. Beat's sweeps run meanwhile.
2. recovery: faults off, workers up; beat's sweeps fail the stale runs and resend the
   requisitions whose worker died; the follow-up runs the product schedules (the next
   hourly sync, the daily PR/PO pass) come, until the work has settled or time is up.
3. the invariants of `chaos.invariants` for what the scenario touched.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos import invariants
from chaos.workers import Workers, wait_until

#: The fault mix of the chaos phase (probability per /api/ call; the write kinds hit POSTs).
FAULT_MIX: dict[str, float] = {
    "error_503": 0.06,
    "error_500": 0.03,
    "storm_429": 0.02,
    "slow": 0.02,
    "reset": 0.03,
    "incomplete": 0.02,
    "truncate": 0.02,
    "malformed": 0.02,
    "lost_response": 0.2,
    "slow_create": 0.1,
}
FAULT_OPTIONS: dict[str, Any] = {"storm_length": 4, "storm_retry_after": 1, "slow_seconds": 3}
#: The sandbox's latency per call (ms): work lasts long enough for kills to land in it.
LATENCY_MS = 20
#: How often beat's sweeps run here (beat: every minute; the stale limits are as short).
SWEEP_EVERY = 2.0


@dataclass
class World:
    """What every scenario works on: the sandbox, the workers, the main connection with
    its published workflow, and the run's random stream."""

    sandbox: Any
    workers: Workers
    connection: Any
    version: Any
    requester: Any
    answers: dict[str, Any]
    rng: random.Random
    quick: bool
    next_number: int = 1000
    port: int = 0
    last_sweep: float = 0.0


@dataclass
class Outcome:
    """One scenario's record: what it did, the faults and kills, the violations."""

    name: str
    seconds: float = 0.0
    kills: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _sweep(world: World, *, force: bool = False) -> None:
    """Run beat's sweeps (stale syncs, validations, requisitions) as beat would."""
    from coupa.tasks import requisition_sweep_task, sync_sweep_task, validation_sweep_task

    now = time.monotonic()
    if force or now - world.last_sweep >= SWEEP_EVERY:
        world.last_sweep = now
        sync_sweep_task()
        validation_sweep_task()
        requisition_sweep_task()


def _api_calls(world: World) -> int:
    return int(world.sandbox.stats(recent=0)["total"])


def _beat(world: World, follow_up: Callable[[], None] | None) -> None:
    _sweep(world)
    if follow_up is not None:
        follow_up()


def _wait(
    world: World, done: Callable[[], bool], timeout: float, follow_up: Callable[[], None] | None
) -> bool:
    """Poll `done()` for up to `timeout` seconds while beat's work (sweeps, follow-ups) goes on."""
    deadline = time.monotonic() + max(timeout, 0.0)
    while not done():
        if time.monotonic() >= deadline:
            return False
        _beat(world, follow_up)
        wait_until(done, min(0.5, max(deadline - time.monotonic(), 0.0)))
    return True


def _chaos(
    world: World,
    busy: Callable[[], bool],
    *,
    window: float,
    max_kills: int,
    follow_up: Callable[[], None] | None = None,
    kill_within: float = 1.0,
) -> int:
    """Faults on; while `busy()`, SIGKILL a worker at a random moment (within `kill_within`
    seconds) once the workers call Coupa again, and restart it; beat's sweeps and the
    scenario's `follow_up()` go on meanwhile. Return how many workers were killed. Faults
    are off again at the end."""
    world.sandbox.set_faults(**FAULT_MIX, **FAULT_OPTIONS)
    kills = 0
    deadline = time.monotonic() + window
    try:
        while time.monotonic() < deadline and busy() and kills < max_kills:
            # A kill lands in work only once a (restarted) worker has taken it up.
            calls = _api_calls(world)

            def taken_up(calls: int = calls) -> bool:
                return not busy() or _api_calls(world) > calls

            _wait(world, taken_up, deadline - time.monotonic(), follow_up)
            wait_until(lambda: not busy(), world.rng.uniform(0.0, max(kill_within - 0.2, 0.0)))
            if busy() and time.monotonic() < deadline:
                slot = world.workers.busiest(world.rng, port=world.port)
                if busy() and world.workers.kill(slot):
                    kills += 1
                time.sleep(world.rng.uniform(0.1, 1.0))
                world.workers.ensure()
        # The rest of the window runs with faults on, without kills.
        _wait(world, lambda: not busy(), deadline - time.monotonic(), follow_up)
    finally:
        world.sandbox.clear_faults()
    return kills


def _recover(
    world: World, settled: Callable[[], bool], follow_up: Callable[[], None], timeout: float
) -> bool:
    """Faults off, workers up: sweeps and `follow_up()` until `settled()`; False on timeout."""
    world.workers.ensure()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _sweep(world, force=True)
        follow_up()
        if wait_until(settled, 2.0):
            return True
    return settled()


def _last_run_pk(connection: Any) -> int:
    """The id of the connection's latest run (0 if none): later runs are the scenario's."""
    from integrations.models import SyncRun

    last = SyncRun.objects.filter(connection=connection).order_by("-pk").first()
    return last.pk if last is not None else 0


def _runs_quiet(connection: Any) -> bool:
    from integrations.models import SyncRun

    return not SyncRun.objects.filter(connection=connection, state__in=SyncRun.LIVE_STATES).exists()


def _last_reference_run(connection: Any) -> Any:
    from integrations.models import SyncRun

    return (
        SyncRun.objects.filter(connection=connection)
        .exclude(resources=["requisitions"])
        .order_by("-pk")
        .first()
    )


def _runs_note(connection: Any, since: int) -> str:
    """`runs: 2 failed (stale), 1 succeeded`: the scenario's runs by how they ended."""
    from coupa.reference.sync import STALE_MESSAGE
    from integrations.models import SyncRun

    ended: Counter[str] = Counter()
    runs = SyncRun.objects.filter(connection=connection, pk__gt=since)
    for state, error in runs.values_list("state", "error"):
        if error == STALE_MESSAGE:
            ended[f"{state} (stale)"] += 1
        else:
            ended[f"{state} ({error})" if error else state] += 1
    return "runs: " + ", ".join(f"{n} {state}" for state, n in sorted(ended.items()))


# -- reference syncs ----------------------------------------------------------------------


def _reference(world: World, outcome: Outcome, connection: Any, trigger: str) -> None:
    from coupa.reference.sync import sync_request
    from integrations.models import SyncRun

    before = invariants.toggles_snapshot(connection=connection)
    since = _last_run_pk(connection)
    sync_request(connection=connection, trigger=trigger)

    def settled() -> bool:
        last = _last_reference_run(connection)
        return (
            _runs_quiet(connection) and last is not None and last.state == SyncRun.State.SUCCEEDED
        )

    def follow_up() -> None:
        # The next hourly sync, once nothing runs (a killed worker's run is failed by the
        # sweep once its heartbeat is stale; a failed run is continued by the next one).
        if _runs_quiet(connection) and not settled():
            sync_request(connection=connection, trigger=SyncRun.Trigger.HOURLY)

    outcome.kills = _chaos(
        world,
        lambda: not settled(),
        window=40.0 if world.quick else 60.0,
        max_kills=3,
        follow_up=follow_up,
    )
    if not _recover(world, settled, follow_up, timeout=180.0):
        outcome.violations.append("The reference sync did not complete within 180 s of recovery.")
    outcome.notes.append(_runs_note(connection, since))
    outcome.violations += invariants.reference_matches(connection=connection, sandbox=world.sandbox)
    outcome.violations += invariants.toggles_unchanged(connection=connection, before=before)
    outcome.violations += invariants.runs_finished(connection=connection)


def scenario_first_import(world: World, outcome: Outcome) -> None:
    """A new organization connects to the same instance; its first import runs under chaos."""
    from bench.env import make_connection, select_charts
    from integrations.models import SyncRun

    connection = make_connection(world.sandbox, rate=0, label="chaos")
    select_charts(connection, 2)
    _reference(world, outcome, connection, SyncRun.Trigger.INITIAL)


def scenario_incremental(world: World, outcome: Outcome) -> None:
    """Coupa changes (touched, added, deactivated, reactivated records), an admin hides and
    shows records, then the hourly sync runs under chaos."""
    from coupa.reference.services import records_set_shown
    from integrations.models import SyncRun

    sb, rng, connection = world.sandbox, world.rng, world.connection
    for resource in ("accounts", "suppliers", "items"):
        sb.touch(resource, share=rng.choice([0.02, 0.05, 0.2]))
    sb.add("items", rng.randint(1, 30))
    sb.add("suppliers", rng.randint(1, 10))
    items = sb.ids("items", active_only=True)
    sb.deactivate("items", *rng.sample(items, min(len(items), rng.randint(1, 10))))
    inactive = sorted(set(sb.ids("items")) - set(sb.ids("items", active_only=True)))
    if inactive:
        sb.reactivate("items", *rng.sample(inactive, min(len(inactive), rng.randint(1, 5))))
    for kind in invariants.PICKABLE_RESOURCES:
        model = invariants._model(kind)
        pks = list(model.objects.filter(connection=connection).values_list("pk", flat=True))
        for shown in (False, True):
            chosen = rng.sample(pks, min(len(pks), rng.randint(1, 15)))
            records_set_shown(connection=connection, user=None, kind=kind, ids=chosen, shown=shown)
    _reference(world, outcome, connection, SyncRun.Trigger.HOURLY)


# -- PR creation ------------------------------------------------------------------------


def _send_requests(world: World, count: int) -> list[int]:
    """`count` requests sent to Coupa as the product sends an approved request
    (requisition_send in the request's transaction; the task is queued on commit)."""
    from django.db import transaction
    from django.utils import timezone

    from coupa.requisitions.push import requisition_send
    from spendflo.workflows.models import PurchaseRequest, WorkflowVersion

    ids = []
    for _ in range(count):
        submit = world.rng.random() < 0.5
        world.version.document_status = (
            WorkflowVersion.DocumentStatus.SUBMITTED
            if submit
            else WorkflowVersion.DocumentStatus.DRAFT
        )
        world.version.save(update_fields=["document_status"])
        world.next_number += 1
        with transaction.atomic():
            request = PurchaseRequest.objects.create(
                organization=world.connection.organization,
                version=world.version,
                requester=world.requester,
                number=world.next_number,
                title=f"Chaos request {world.next_number}",
                answers=world.answers,
                state=PurchaseRequest.State.SENDING,
                submitted_at=timezone.now(),
            )
            ids.append(requisition_send(request=request).pk)
    return ids


def scenario_pr_creation(world: World, outcome: Outcome) -> None:
    """Approved requests become PRs (drafts and submitted for approval) under chaos."""
    from coupa.models import Requisition

    final = [Requisition.State.CREATED, Requisition.State.FAILED]
    ids = _send_requests(
        world, world.rng.randint(4, 8) if world.quick else world.rng.randint(6, 14)
    )

    def busy() -> bool:
        return Requisition.objects.filter(pk__in=ids).exclude(state__in=final).exists()

    outcome.kills = _chaos(world, busy, window=25.0 if world.quick else 40.0, max_kills=3)
    if not _recover(world, lambda: not busy(), lambda: None, timeout=180.0):
        outcome.violations.append("Requisitions were still being sent 180 s into recovery.")
    from coupa.models import RequisitionAttempt

    tries = Counter(
        RequisitionAttempt.objects.filter(requisition_id__in=ids).values_list("outcome", flat=True)
    )
    states = Counter(Requisition.objects.filter(pk__in=ids).values_list("state", flat=True))
    outcome.notes.append(
        f"{len(ids)} requests: "
        + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        + "; attempts: "
        + ", ".join(f"{n} {o or 'unfinished'}" for o, n in sorted(tries.items()))
    )
    outcome.violations += invariants.requisitions_once(
        connection=world.connection, sandbox=world.sandbox
    )
    outcome.violations += invariants.requests_settled(organization=world.connection.organization)


# -- PR/PO sync -------------------------------------------------------------------------


def scenario_pr_sync(world: World, outcome: Outcome) -> None:
    """Coupa approves and orders submitted PRs (the sandbox's auto-pilot); the hourly and
    daily PR/PO passes run under chaos; the next daily pass after recovery catches up."""
    from coupa.requisitions.status_sync import requisition_sync_request
    from coupa.tasks import requisition_sync_hourly_task
    from integrations.models import SyncRun

    sb, connection = world.sandbox, world.connection
    sb.autopilot(approve=0.2, order=0.5)
    sb.run_autopilot()
    # Slower calls, so that the kills land while a pass is under way.
    sb.settings(latency_ms=250, latency_jitter_ms=200)
    started = time.monotonic()
    marker = _last_run_pk(connection)
    asked = [0.0]

    def passes() -> int:
        return SyncRun.objects.filter(
            connection=connection, resources=["requisitions"], pk__gt=marker
        ).count()

    def pass_again() -> None:
        # Beat's daily and hourly passes, compressed: asked again every few seconds.
        if time.monotonic() - asked[0] > 3.0:
            requisition_sync_request(connection=connection)
            requisition_sync_hourly_task.delay()
            asked[0] = time.monotonic()

    pass_again()
    outcome.kills = _chaos(
        world,
        lambda: passes() < 6 and time.monotonic() - started < 30,
        window=30.0,
        max_kills=3,
        follow_up=pass_again,
        kill_within=0.6,
    )
    sb.settings(latency_ms=LATENCY_MS, latency_jitter_ms=LATENCY_MS)
    # Coupa stops moving: what the product shows must now equal it.
    sb.run_autopilot()
    sb.autopilot(approve=None, order=None)
    recovery = _last_run_pk(connection)
    asked[0] = 0.0

    def settled() -> bool:
        return SyncRun.objects.filter(
            connection=connection,
            resources=["requisitions"],
            pk__gt=recovery,
            state=SyncRun.State.SUCCEEDED,
            full=True,
        ).exists()

    def follow_up() -> None:
        # The next daily pass (beat's); asked again if a killed worker lost it.
        if time.monotonic() - asked[0] > 10.0:
            requisition_sync_request(connection=connection)
            asked[0] = time.monotonic()

    if not _recover(world, settled, follow_up, timeout=120.0):
        outcome.violations.append("No PR/PO pass succeeded within 120 s of recovery.")
    outcome.notes.append(_runs_note(connection, marker))
    outcome.violations += invariants.orders_match(connection=connection, sandbox=sb)
    outcome.violations += invariants.requisitions_once(connection=connection, sandbox=sb)
    outcome.violations += invariants.runs_finished(connection=connection)


SCENARIOS: dict[str, Callable[[World, Outcome], None]] = {
    "first import": scenario_first_import,
    "PR creation": scenario_pr_creation,
    "incremental sync": scenario_incremental,
    "PR/PO sync": scenario_pr_sync,
}
