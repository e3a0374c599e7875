"""Request services: validation, numbering, idempotency, approval, dispatch, retry, notices."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, connections

from integrations.providers import Blocker
from spendflo.workflows import requests as requests_module
from spendflo.workflows.models import Notification, PurchaseRequest, RequestEvent
from spendflo.workflows.requests import (
    RequestError,
    RequestInvalidError,
    request_approve,
    request_reject,
    request_retry,
    request_submit,
)
from spendflo.workflows.services import version_draft_for
from tests.spendflo.workflows.conftest import build_published, good_answers

pytestmark = pytest.mark.django_db


def _submit(version: Any, user: Any, answers: Any = None, **kw: Any) -> PurchaseRequest:
    return request_submit(
        version=version,
        requester=user,
        title=kw.pop("title", "New laptops"),
        answers=good_answers() if answers is None else answers,
        **kw,
    )


def _problems(version: Any, user: Any, answers: Any, **kw: Any) -> dict[str, str]:
    with pytest.raises(RequestInvalidError) as caught:
        _submit(version, user, answers, **kw)
    return {p.key: p.message for p in caught.value.problems}


def test_submit_stores_normalised_answers_and_sends_once(
    published, requester_user, fake_provider, django_capture_on_commit_callbacks
) -> None:
    """Without approval: number 1, state sending, submitted + queued, request_send once."""
    with django_capture_on_commit_callbacks(execute=True):
        req = _submit(published, requester_user)
    assert req.reference == "SF-1"
    assert req.state == PurchaseRequest.State.SENDING
    assert req.answers["request"]["ship_to"] == 3
    assert req.answers["lines"][0]["vendor"] == 7
    assert req.answers["lines"][0]["unit_price"] == {"amount": "999.50", "currency": "USD"}
    assert [e.kind for e in req.events.all()] == ["submitted", "queued"]
    assert fake_provider.calls == [("problems", published.pk), ("send", req.pk)]


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (lambda a: a["request"].pop("ship_to"), "ship_to", "Ship to is required."),
        (lambda a: a["lines"][0].update(quantity="two"), "lines.0.quantity", "Enter a number"),
        (
            lambda a: a["lines"][0].update(unit_price={"amount": "x", "currency": "USD"}),
            "lines.0.unit_price",
            "amount as a number",
        ),
        (
            lambda a: a["lines"][0].update(unit_price={"amount": "5", "currency": ""}),
            "lines.0.unit_price",
            "Enter the currency",
        ),
        (lambda a: a["request"].update(need_by="15/01/2027"), "need_by", "YYYY-MM-DD"),
        (
            lambda a: a["request"].update(cost_centre="Marketing"),
            "cost_centre",
            "one of the options",
        ),
        (lambda a: a["lines"][0].update(vendor="Acme"), "lines.0.vendor", "Pick a record"),
        (lambda a: a["lines"][0].update(vendor=True), "lines.0.vendor", "Pick a record"),
        (lambda a: a.update(lines=[]), "", "at least one line"),
    ],
)
def test_each_form_rule_refuses_before_anything_is_sent(
    published, requester_user, fake_provider, change, key, message
) -> None:
    answers = good_answers()
    change(answers)
    problems = _problems(published, requester_user, answers)
    assert message in problems[key]
    assert PurchaseRequest.objects.count() == 0
    assert fake_provider.calls == []  # not even the provider's check


def test_title_is_required(published, requester_user, fake_provider) -> None:
    assert "title" in _problems(published, requester_user, good_answers(), title="  ")


def test_provider_problems_refuse_and_name_their_field(
    published, requester_user, fake_provider
) -> None:
    fake_provider.problems.extend(
        [Blocker("requested-by", "No Coupa user has your email."), Blocker("ship_to", "Gone")]
    )
    problems = _problems(published, requester_user, good_answers())
    assert problems == {"": "No Coupa user has your email.", "ship_to": "Gone"}
    assert PurchaseRequest.objects.count() == 0
    assert ("send", 1) not in fake_provider.calls


def test_only_published_versions_take_requests(published, requester_user, admin_user) -> None:
    draft = version_draft_for(workflow=published.workflow, user=admin_user)
    with pytest.raises(RequestError, match="not published"):
        _submit(draft, requester_user)


def test_another_organizations_member_cannot_submit(
    published, make_user, other_organization
) -> None:
    stranger = make_user("requester", other_organization)
    with pytest.raises(RequestError):
        _submit(published, stranger)


def test_numbers_are_per_organization(
    published, requester_user, fake_provider, other_organization, make_user
) -> None:
    other_admin = make_user("admin", other_organization)
    other = build_published(other_organization, other_admin)
    assert [_submit(published, requester_user).number for _ in range(3)] == [1, 2, 3]
    assert _submit(other, make_user("requester", other_organization)).number == 1


def test_a_number_taken_concurrently_is_retried(published, requester_user, fake_provider) -> None:
    """A concurrent submit taking the number between read and insert: the next one is used."""
    first = _submit(published, requester_user)
    real = requests_module._next_number
    stale = iter([first.number])  # the first read is stale: another submit took it
    with mock.patch.object(
        requests_module, "_next_number", side_effect=lambda org: next(stale, None) or real(org)
    ):
        second = _submit(published, requester_user)
    assert (first.number, second.number) == (1, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_never_share_a_number(
    fake_provider, organization, admin_user, requester_user
) -> None:
    version = build_published(organization, admin_user)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            barrier.wait()
            _submit(version, requester_user)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(PurchaseRequest.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
    assert connection.vendor == "postgresql"


def test_double_submit_makes_one_request(published, requester_user, fake_provider) -> None:
    """The same form token twice: the first request back, sent once."""
    a = _submit(published, requester_user, submit_token="tok-1")
    b = _submit(published, requester_user, submit_token="tok-1")
    assert a.pk == b.pk
    assert PurchaseRequest.objects.count() == 1
    assert [c for c in fake_provider.calls if c[0] == "send"] == [("send", a.pk)]
    assert _submit(published, requester_user, submit_token="tok-2").pk != a.pk


def test_double_submit_racing_past_the_check_still_makes_one(
    published, requester_user, fake_provider
) -> None:
    """The check misses the twin (it commits in between): the constraint catches it."""
    first = _submit(published, requester_user, submit_token="tok")
    real_filter = PurchaseRequest.objects.filter
    calls = {"n": 0}

    def blind_first_lookup(*args: Any, **kwargs: Any) -> Any:
        if "submit_token" in kwargs and calls["n"] == 0:
            calls["n"] += 1
            return PurchaseRequest.objects.none()
        return real_filter(*args, **kwargs)

    with mock.patch.object(PurchaseRequest.objects, "filter", side_effect=blind_first_lookup):
        again = _submit(published, requester_user, submit_token="tok")
    assert again.pk == first.pk
    assert PurchaseRequest.objects.count() == 1


# --- approval ---------------------------------------------------------------------------------


@pytest.fixture
def approver(make_user, organization) -> Any:
    return make_user("requester", organization, email="boss@acme.test")


@pytest.fixture
def named(fake_provider, organization, admin_user, approver) -> Any:
    return build_published(
        organization, admin_user, name="Named", approval="user", approver=approver
    )


def test_named_approver_approves_and_it_is_sent_once(
    named, requester_user, approver, fake_provider
) -> None:
    req = _submit(named, requester_user)
    assert req.state == PurchaseRequest.State.AWAITING_APPROVAL
    assert not [c for c in fake_provider.calls if c[0] == "send"]
    request_approve(request=req, user=approver, comment="ok")
    req.refresh_from_db()
    assert req.state == PurchaseRequest.State.SENDING
    with pytest.raises(RequestError, match="nothing to decide"):
        request_approve(request=req, user=approver)
    assert [c for c in fake_provider.calls if c[0] == "send"] == [("send", req.pk)]
    assert [e.kind for e in req.events.all()] == ["submitted", "approved", "queued"]


def test_others_cannot_decide_a_named_approval(named, requester_user, admin_user, ops_user) -> None:
    req = _submit(named, requester_user)
    for user in (requester_user, admin_user, ops_user):
        with pytest.raises(RequestError, match="Only the approver"):
            request_approve(request=req, user=user)
        with pytest.raises(RequestError):
            request_reject(request=req, user=user, comment="no")
    req.refresh_from_db()
    assert req.state == PurchaseRequest.State.AWAITING_APPROVAL


def test_any_admin_approves_when_the_step_says_so(
    fake_provider, organization, admin_user, make_user, requester_user, ops_user
) -> None:
    version = build_published(organization, admin_user, name="Any", approval="any_admin")
    req = _submit(version, requester_user)
    with pytest.raises(RequestError):
        request_approve(request=req, user=ops_user)
    other_admin = make_user("admin", organization)
    request_approve(request=req, user=other_admin)
    assert PurchaseRequest.objects.get(pk=req.pk).state == PurchaseRequest.State.SENDING


def test_reject_needs_a_comment(named, requester_user, approver, fake_provider) -> None:
    req = _submit(named, requester_user)
    with pytest.raises(RequestError, match="Say why"):
        request_reject(request=req, user=approver, comment="  ")
    request_reject(request=req, user=approver, comment="Too expensive")
    req.refresh_from_db()
    assert req.state == PurchaseRequest.State.REJECTED
    assert "Too expensive" in req.events.get(kind="rejected").message
    assert not [c for c in fake_provider.calls if c[0] == "send"]


def test_retry_is_for_admins_on_failed_requests(
    published, requester_user, admin_user, ops_user, fake_provider
) -> None:
    req = _submit(published, requester_user)
    with pytest.raises(RequestError, match="nothing to retry"):
        request_retry(request=req, user=admin_user)
    PurchaseRequest.objects.filter(pk=req.pk).update(state=PurchaseRequest.State.PR_FAILED)
    for user in (requester_user, ops_user):
        with pytest.raises(RequestError, match="Only admins"):
            request_retry(request=req, user=user)
    request_retry(request=req, user=admin_user)
    req.refresh_from_db()
    assert req.state == PurchaseRequest.State.SENDING
    assert ("retry", req.pk) in fake_provider.calls
    assert req.events.filter(kind=RequestEvent.Kind.RETRIED).count() == 1


# --- notices --------------------------------------------------------------------------------


def test_one_notice_and_email_per_recipient_per_event(
    named, requester_user, approver, admin_user, django_capture_on_commit_callbacks
) -> None:
    """Submitted → the approver and the admin; rejected → the requester and the admin."""
    with django_capture_on_commit_callbacks(execute=True):
        req = _submit(named, requester_user)
    assert sorted(n.recipient.email for n in Notification.objects.all()) == [
        admin_user.email,
        approver.email,
    ]
    assert sorted(m.to[0] for m in mail.outbox) == [admin_user.email, approver.email]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request_reject(request=req, user=approver, comment="No budget")
    rejected = Notification.objects.filter(event__kind="rejected")
    assert sorted(n.recipient.email for n in rejected) == [admin_user.email, requester_user.email]
    assert len(mail.outbox) == 2
    assert "No budget" in mail.outbox[0].body
    assert "SF-1" in mail.outbox[0].subject
    assert f"/requests/{req.pk}/" in mail.outbox[0].body


def test_events_without_notify_and_repeats_send_nothing_more(
    published, requester_user, django_capture_on_commit_callbacks
) -> None:
    from spendflo.workflows.notices import notices_send
    from spendflo.workflows.services import request_event_record

    with django_capture_on_commit_callbacks(execute=True):
        req = _submit(published, requester_user)  # submitted and queued: no notices
    assert Notification.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        event = request_event_record(
            request=req, kind="pr_created", message="PR 42 created.", notify=True
        )
    count, sent = Notification.objects.count(), len(mail.outbox)
    assert count == 2 and sent == 2  # the requester and the admin
    notices_send(event_id=event.pk)  # a second run for the same event
    assert (Notification.objects.count(), len(mail.outbox)) == (count, sent)


@pytest.mark.django_db(transaction=True)
def test_repeats_outside_a_transaction_send_nothing_more(published, requester_user) -> None:
    """Notices go out after the event's commit, outside any transaction: a second run for
    the same event is refused by the database without breaking anything after it."""
    from spendflo.workflows.notices import notices_send
    from spendflo.workflows.services import request_event_record

    req = _submit(published, requester_user)
    event = request_event_record(  # no transaction: noticed at once
        request=req, kind="pr_created", message="PR 42 created.", notify=True
    )
    count, sent = Notification.objects.count(), len(mail.outbox)
    assert count == 2 and sent == 2  # the requester and the admin
    assert notices_send(event_id=event.pk) == []
    assert (Notification.objects.count(), len(mail.outbox)) == (count, sent)


def test_an_event_held_with_its_people_is_noticed_without_reading_it_again(
    named, requester_user, approver, admin_user, django_capture_on_commit_callbacks
) -> None:
    """An event whose request's requester, approver and workflow its caller loaded gets
    the notices and emails an event read by id gets; one loaded without them is read."""
    from django.test.utils import CaptureQueriesContext

    from spendflo.workflows.notices import notices_send

    with django_capture_on_commit_callbacks(execute=False):
        req = _submit(named, requester_user)
    people = ("requester", "version__approver", "version__workflow")
    outcomes = []
    for related in (people, ()):
        held = PurchaseRequest.objects.select_related(*related).get(pk=req.pk)
        event = RequestEvent.objects.create(request=held, kind="pr_created", message="PR made.")
        mail.outbox.clear()
        with CaptureQueriesContext(connection) as queries:
            made = notices_send(event_id=event.pk, event=event)
        reads = sum('FROM "workflows_requestevent"' in q["sql"] for q in queries)
        emails = sorted((m.to[0], m.subject, m.body) for m in mail.outbox)
        outcomes.append((reads, sorted((n.recipient.email, n.message) for n in made), emails))
    (loaded_reads, notices, emails), (plain_reads, plain_notices, plain_emails) = outcomes
    assert (loaded_reads, plain_reads) == (0, 1)
    assert notices == plain_notices
    assert [e for e, _ in notices] == sorted(
        [admin_user.email, approver.email, requester_user.email]
    )
    assert emails == plain_emails and all("Workflow: Named" in body for _, _, body in emails)


def test_user_answers_must_be_members_of_the_organization(
    fake_provider, organization, admin_user, requester_user, make_user, other_organization
) -> None:
    from spendflo.workflows.services import (
        FieldInput,
        form_field_add,
        version_publish,
        workflow_create,
    )

    version = workflow_create(organization=organization, name="U", user=admin_user).versions.get()
    form_field_add(version=version, data=FieldInput("Manager", type="user"), user=admin_user)
    version = version_publish(version=version, user=admin_user)
    stranger = make_user("admin", other_organization)
    for value in (stranger.pk, "abc"):
        problems = _problems(version, requester_user, {"request": {"manager": value}, "lines": []})
        assert "user of this organization" in problems["manager"]
    req = _submit(version, requester_user, {"request": {"manager": str(admin_user.pk)}})
    assert req.answers == {"request": {"manager": admin_user.pk}, "lines": []}
