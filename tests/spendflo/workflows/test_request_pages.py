"""Requester pages (new request, the form, my requests, a request, notices) and the
admins' and ops' list of all requests."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from spendflo.workflows.models import Notification, PurchaseRequest
from spendflo.workflows.requests import request_submit
from tests.spendflo.workflows.conftest import build_published, good_answers

pytestmark = pytest.mark.django_db


def _form_url(version: Any) -> str:
    return reverse("workflows:request_form", kwargs={"workflow_id": version.workflow_id})


def _post_data(version: Any, **over: Any) -> dict[str, str]:
    data = {
        "title": "New laptops",
        "submit_token": "tok-page",
        "lines": "2",
        "request-ship_to": "3",
        "request-ship_to-label": "HQ, Berlin",
        "request-cost_centre": "R&D",
        "request-need_by": "2027-01-15",
        "action": "submit",
    }
    for n in range(2):
        data.update(
            {
                f"line-{n}-description": f"Laptop {n}",
                f"line-{n}-quantity": "2",
                f"line-{n}-unit_price-amount": "999.50",
                f"line-{n}-unit_price-currency": "USD",
                f"line-{n}-vendor": "7",
                f"line-{n}-vendor-label": "Dell",
            }
        )
    data.update(over)
    return data


def _submit(version: Any, user: Any, title: str = "Chairs") -> PurchaseRequest:
    return request_submit(version=version, requester=user, title=title, answers=good_answers())


def test_new_request_lists_published_workflows_only(
    client_as, requester_user, published, admin_user, organization
) -> None:
    from spendflo.workflows.services import workflow_create

    workflow_create(organization=organization, name="Unpublished", user=admin_user)
    page = client_as(requester_user).get(reverse("workflows:request_new")).content.decode()
    assert "IT hardware" in page
    assert "Unpublished" not in page


def test_the_form_shows_fields_help_required_marks_and_pickers(
    client_as, requester_user, published
) -> None:
    page = client_as(requester_user).get(_form_url(published)).content.decode()
    assert 'name="line-0-description"' in page
    assert "What to buy" in page  # help text
    assert page.count('class="required"') >= 6  # title + 5 required fields (+ legend)
    assert 'data-picker="/api/v1/pickers/addresses"' in page
    assert 'data-picker="/api/v1/pickers/vendors"' in page
    assert 'name="submit_token"' in page


def test_submit_from_the_page_makes_the_request(
    client_as, requester_user, published, fake_provider
) -> None:
    response = client_as(requester_user).post(_form_url(published), _post_data(published))
    req = PurchaseRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows:request", kwargs={"pk": req.pk})
    assert len(req.answers["lines"]) == 2
    assert req.labels["lines"][1]["vendor"] == "Dell"
    detail = client_as(requester_user).get(response["Location"]).content.decode()
    assert "Sending to Coupa" in detail
    assert "Dell (#7)" in detail and "HQ, Berlin (#3)" in detail
    assert "Laptop 1" in detail


def test_a_refused_form_shows_errors_on_fields_and_keeps_everything(
    client_as, requester_user, published, fake_provider
) -> None:
    data = _post_data(published, **{"line-1-quantity": "lots", "request-ship_to": ""})
    response = client_as(requester_user).post(_form_url(published), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert PurchaseRequest.objects.count() == 0
    assert re.search(r'data-testid="error-line-1-quantity">.*Enter a number', page, re.S)
    assert 'data-testid="error-request-ship_to"' in page
    assert 'value="lots"' in page  # what was typed stays
    assert 'value="Laptop 1"' in page and 'value="New laptops"' in page
    assert '<option value="7" selected>Dell</option>' in page
    assert 'value="tok-page"' in page  # the same token: a resubmit is still one request


def test_add_and_remove_lines_keep_answers(client_as, requester_user, published) -> None:
    client = client_as(requester_user)
    page = client.post(_form_url(published), _post_data(published, action="add_line"))
    html = page.content.decode()
    assert 'name="line-2-description"' in html and 'value="Laptop 1"' in html
    page = client.post(_form_url(published), _post_data(published, action="remove_line-0"))
    html = page.content.decode()
    assert 'name="line-1-description"' not in html
    assert 'value="Laptop 1"' in html and 'value="Laptop 0"' not in html
    assert PurchaseRequest.objects.count() == 0


def test_double_post_of_the_form_is_one_request(
    client_as, requester_user, published, fake_provider
) -> None:
    client = client_as(requester_user)
    first = client.post(_form_url(published), _post_data(published))
    second = client.post(_form_url(published), _post_data(published))
    assert PurchaseRequest.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_my_requests_shows_only_mine_with_the_document(
    client_as, requester_user, make_user, organization, published, fake_provider
) -> None:
    mine = _submit(published, requester_user, "Mine")
    _submit(published, make_user("requester", organization), "Theirs")
    fake_provider.documents[mine.pk] = {
        "id": 4242,
        "status": "pending_approval",
        "url": "https://x.example/requisition_headers/4242",
        "orders": [{"number": "PO-77", "status": "issued", "url": "https://x.example/o/1"}],
    }
    page = client_as(requester_user).get(reverse("workflows:request_list")).content.decode()
    assert "Mine" in page and "Theirs" not in page
    assert "4242" in page and "pending_approval" in page and "PO-77" in page


def test_others_requests_and_other_tenants_are_404(
    client_as, requester_user, make_user, organization, other_organization, published
) -> None:
    theirs = _submit(published, make_user("requester", organization))
    assert client_as(requester_user).get(f"/requests/{theirs.pk}/").status_code == 404
    stranger = make_user("admin", other_organization)
    assert client_as(stranger).get(f"/requests/{theirs.pk}/").status_code == 404
    assert client_as(stranger).post(f"/requests/{theirs.pk}/retry/").status_code == 404


def test_all_requests_for_admins_and_ops_with_state_filter(
    client_as, requester_user, admin_user, ops_user, published, fake_provider
) -> None:
    ok = _submit(published, requester_user, "Going fine")
    failed = _submit(published, requester_user, "Broken one")
    PurchaseRequest.objects.filter(pk=failed.pk).update(state=PurchaseRequest.State.PR_FAILED)
    url = reverse("workflows:request_all")
    assert client_as(requester_user).get(url).status_code == 403
    for user in (admin_user, ops_user):
        page = client_as(user).get(url).content.decode()
        assert "Going fine" in page and "Broken one" in page
        filtered = client_as(user).get(url, {"state": "pr_failed"}).content.decode()
        assert "Broken one" in filtered and "Going fine" not in filtered
        assert "PR failed" in filtered
    assert ok.pk


def test_failed_request_shows_attempts_and_retry_for_admins_only(
    client_as, requester_user, admin_user, ops_user, published, fake_provider
) -> None:
    req = _submit(published, requester_user)
    PurchaseRequest.objects.filter(pk=req.pk).update(state=PurchaseRequest.State.PR_FAILED)
    fake_provider.documents[req.pk] = {
        "id": None,
        "messages": ["Supplier is inactive"],
        "attempts": [{"at": "2026-12-01 10:00", "outcome": "refused", "message": "400"}],
    }
    url = f"/requests/{req.pk}/"
    admin_page = client_as(admin_user).get(url).content.decode()
    assert "Supplier is inactive" in admin_page and 'data-testid="attempts"' in admin_page
    assert ">Retry</button>" in admin_page
    ops_page = client_as(ops_user).get(url).content.decode()
    assert 'data-testid="attempts"' in ops_page and ">Retry</button>" not in ops_page
    response = client_as(admin_user).post(f"{url}retry/")
    assert response.status_code == 302
    assert PurchaseRequest.objects.get(pk=req.pk).state == PurchaseRequest.State.SENDING
    assert ("retry", req.pk) in fake_provider.calls


def test_approver_sees_buttons_and_decides(
    client_as, requester_user, make_user, organization, admin_user, fake_provider
) -> None:
    boss = make_user("requester", organization, email="boss@acme.test")
    version = build_published(organization, admin_user, name="N", approval="user", approver=boss)
    req = _submit(version, requester_user)
    url = f"/requests/{req.pk}/"
    assert ">Approve</button>" not in client_as(requester_user).get(url).content.decode()
    assert ">Approve</button>" in client_as(boss).get(url).content.decode()
    client_as(boss).post(f"{url}reject/", {"comment": ""})
    assert PurchaseRequest.objects.get(pk=req.pk).state == PurchaseRequest.State.AWAITING_APPROVAL
    client_as(boss).post(f"{url}reject/", {"comment": "Not this quarter"})
    page = client_as(requester_user).get(url).content.decode()
    assert "Rejected" in page and "Not this quarter" in page


def test_notices_count_in_nav_and_mark_read(
    client_as, requester_user, admin_user, published, django_capture_on_commit_callbacks
) -> None:
    from spendflo.workflows.services import request_event_record

    req = _submit(published, requester_user)
    with django_capture_on_commit_callbacks(execute=True):
        request_event_record(request=req, kind="pr_created", message="PR 9 created.", notify=True)
    client = client_as(requester_user)
    home = client.get(reverse("workflows:request_list")).content.decode()
    assert re.search(r'data-testid="unread-notices">1<', home)
    assert "PR 9 created." in client.get(reverse("workflows:notices")).content.decode()
    client.post(reverse("workflows:notices"))
    assert not Notification.objects.filter(recipient=requester_user, read_at__isnull=True).exists()
    assert 'data-testid="unread-notices"' not in client.get("/requests/").content.decode()


def test_my_requests_lists_what_waits_for_my_approval(
    client_as, requester_user, make_user, organization, admin_user, fake_provider
) -> None:
    boss = make_user("requester", organization, email="boss@acme.test")
    named = build_published(organization, admin_user, name="N", approval="user", approver=boss)
    anyone = build_published(organization, admin_user, name="A", approval="any_admin")
    _submit(named, requester_user, "For the boss")
    _submit(anyone, requester_user, "For any admin")
    boss_page = client_as(boss).get(reverse("workflows:request_list")).content.decode()
    assert "For the boss" in boss_page and "For any admin" not in boss_page
    admin_page = client_as(admin_user).get(reverse("workflows:request_list")).content.decode()
    assert "For any admin" in admin_page and "For the boss" not in admin_page
    own = client_as(requester_user).get(reverse("workflows:request_list")).content.decode()
    assert 'data-testid="awaiting-approval"' not in own


def test_a_provider_naming_picked_records_is_believed_over_the_browser(
    client_as, requester_user, published, fake_provider
) -> None:
    """Labels posted with the form are a hint: a provider's `request_labels` wins."""
    client_as(requester_user).post(
        _form_url(published), _post_data(published, **{"line-0-vendor-label": "Trusted Inc"})
    )
    req = PurchaseRequest.objects.get()
    url = f"/requests/{req.pk}/"
    assert "Trusted Inc (#7)" in client_as(requester_user).get(url).content.decode()
    fake_provider.request_labels = lambda self, request: {  # type: ignore[attr-defined]
        "request": {},
        "lines": [{"vendor": "Shady Ltd"}, {"vendor": "Shady Ltd"}],
    }
    try:
        page = client_as(requester_user).get(url).content.decode()
    finally:
        del fake_provider.request_labels  # type: ignore[attr-defined]
    assert "Shady Ltd (#7)" in page and "Trusted Inc" not in page
