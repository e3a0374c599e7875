"""The Coupa side of a workflow version: the mapping page, custom fields, the preview."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from django.urls import reverse

from coupa.requisitions.mapping import mapping_problems
from integrations.models import CustomFieldDefinition, FieldMapping
from spendflo.audit.models import AuditEvent
from spendflo.workflows.services import version_publish
from tests.coupa.requisitions.conftest import Setup
from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db


def _url(name: str, setup: Setup, **kw: Any) -> str:
    return reverse(
        f"coupa:{name}",
        kwargs={"workflow_id": setup.workflow.pk, "number": setup.version.number, **kw},
    )


def _row(html: str, target: str) -> str:
    start = html.index(f'data-target="{target}"')
    return html[start : html.index("</tr>", start)]


def test_mapping_page_lists_header_and_line_fields(client_as: Any, setup: Setup) -> None:
    page = client_as(setup.admin).get(_url("mapping", setup)).content.decode()
    assert 'data-section="header"' in page and 'data-section="line"' in page
    ship_to = _row(page, "ship-to-address")
    assert "Ship-to address" in ship_to and "Required" in ship_to and "Address" in ship_to
    assert "Not mapped" in ship_to
    assert "Suggested: Form field “Ship to”" in ship_to


def test_only_compatible_form_fields_are_offered(client_as: Any, setup: Setup) -> None:
    """The supplier's form-field select lists the vendor picker, not text or numbers."""
    page = client_as(setup.admin).get(_url("mapping", setup)).content.decode()
    start = page.index('data-edit="line.supplier"')
    edit = page[start : page.index("</tr>", start)]
    select = edit[
        edit.index('name="form_field"') : edit.index("</select>", edit.index('name="form_field"'))
    ]
    assert "Vendor" in select
    assert "Description" not in select and "Quantity" not in select


def test_accept_one_and_all_suggestions(client_as: Any, setup: Setup) -> None:
    client = client_as(setup.admin)
    client.post(_url("mapping_accept", setup), {"target": "ship-to-address"})
    mapping = setup.version.mappings.get(target="ship-to-address")
    assert mapping.form_field == setup.fields["ship_to"]
    assert setup.version.mappings.count() == 1
    response = client.post(_url("mapping_accept", setup), follow=True)
    assert "Accepted" in response.content.decode()
    assert setup.version.mappings.filter(target="line.supplier").exists()
    assert setup.version.mappings.filter(target="requested-by", source="requester").exists()


def test_set_a_constant_record_and_see_it(client_as: Any, setup: Setup) -> None:
    client = client_as(setup.admin)
    uom = setup.records["uom"]
    response = client.post(
        _url("mapping_set", setup), {"target": "line.uom", "source": "constant", "value": uom.pk}
    )
    assert response.status_code == 302 and response["Location"].endswith("#row-line.uom")
    assert setup.version.mappings.get(target="line.uom").value == {"id": uom.pk}
    row = _row(client.get(_url("mapping", setup)).content.decode(), "line.uom")
    assert f"Constant: {uom.code}" in row
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MAPPING_CHANGE).exists()


def test_set_a_form_field_with_a_default(client_as: Any, setup: Setup) -> None:
    """An optional account picker with a default account is always present."""
    account = setup.records["account"]
    client_as(setup.admin).post(
        _url("mapping_set", setup),
        {
            "target": "line.account",
            "source": "form_field",
            "form_field": setup.fields["account"].pk,
            "default": account.pk,
        },
    )
    mapping = setup.version.mappings.get(target="line.account")
    assert (mapping.form_field, mapping.default) == (setup.fields["account"], {"id": account.pk})


def test_an_incompatible_source_is_refused_in_words(client_as: Any, setup: Setup) -> None:
    response = client_as(setup.admin).post(
        _url("mapping_set", setup),
        {
            "target": "line.supplier",
            "source": "form_field",
            "form_field": setup.fields["quantity"].pk,
        },
        follow=True,
    )
    assert "A number field cannot feed Supplier" in response.content.decode()
    assert not setup.version.mappings.filter(target="line.supplier").exists()


def test_a_record_not_offered_is_refused(
    client_as: Any, setup: Setup, other_organization: Any
) -> None:
    from tests.factories import ConnectionFactory

    foreign = VendorFactory(connection=ConnectionFactory(organization=other_organization))
    response = client_as(setup.admin).post(
        _url("mapping_set", setup),
        {"target": "line.supplier", "source": "constant", "value": foreign.pk},
        follow=True,
    )
    assert "not an offered vendor" in response.content.decode()


def test_locked_mapping_has_no_remove_control_and_a_forced_post_is_refused(
    client_as: Any, setup: Setup
) -> None:
    """A required field's mapping shows a lock, no Remove; a forced POST keeps it and says why."""
    client = client_as(setup.admin)
    client.post(_url("mapping_accept", setup), {"target": "ship-to-address"})
    row = _row(client.get(_url("mapping", setup)).content.decode(), "ship-to-address")
    assert 'data-testid="locked"' in row
    assert "/mapping/remove/" not in row and "Remove the mapping" not in row
    response = client.post(
        _url("mapping_remove", setup), {"target": "ship-to-address"}, follow=True
    )
    reason = (
        "Ship-to address is required by Coupa: its mapping cannot be removed, "
        "only changed to another source."
    )
    assert reason in _row(response.content.decode(), "ship-to-address")  # shown on its row
    assert setup.version.mappings.filter(target="ship-to-address").exists()


def test_an_optional_mapping_can_be_removed(client_as: Any, setup: Setup) -> None:
    client = client_as(setup.admin)
    client.post(_url("mapping_accept", setup), {"target": "need-by-date"})
    row = _row(client.get(_url("mapping", setup)).content.decode(), "need-by-date")
    assert "Remove the mapping of Need-by date" in row
    client.post(_url("mapping_remove", setup), {"target": "need-by-date"})
    assert not setup.version.mappings.filter(target="need-by-date").exists()


def test_blockers_name_their_field_once(setup: Setup) -> None:
    """A problem that starts with its field's label is not prefixed with it again."""
    messages = [p.message for p in mapping_problems(setup.version)]
    assert "Requested by is required by Coupa: map it." in messages
    assert not any(m.startswith("Requested by: Requested by") for m in messages)
    assert any(m.startswith("Description: Coupa needs a description or an item") for m in messages)


def test_blockers_link_to_where_they_are_fixed(setup: Setup) -> None:
    """A row's blocker links to its row; a form blocker links nowhere; the connection's to it."""
    from coupa.provider import CoupaProvider

    for field in list(setup.version.fields.filter(group="line")):
        field.delete()
    blockers = {b.message: b.url for b in CoupaProvider().workflow_blockers(version=setup.version)}
    assert blockers["Ship-to address is required by Coupa: map it."] == (
        _url("mapping", setup) + "#row-ship-to-address"
    )
    form = next(m for m in blockers if m.startswith("The form has no line fields"))
    assert blockers[form] == ""
    setup.connection.delete()
    blockers = {b.message: b.url for b in CoupaProvider().workflow_blockers(version=setup.version)}
    assert blockers["Coupa is not connected: connect it under Settings → Integrations."] == reverse(
        "integrations:procurement"
    )


def test_problems_are_shown_per_row(client_as: Any, setup: Setup) -> None:
    row = _row(client_as(setup.admin).get(_url("mapping", setup)).content.decode(), "line.currency")
    assert "Currency is required by Coupa: map it." in row


def test_record_search_returns_the_first_matches(client_as: Any, setup: Setup) -> None:
    """The picker's search is server-side and returns at most 20 options."""
    for i in range(30):
        VendorFactory(connection=setup.connection, name=f"Zeta supplier {i:02d}")
    client = client_as(setup.admin)
    response = client.get(_url("mapping_records", setup, kind="vendors"), {"q": "zeta"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("<option") == 20 and "Zeta supplier 00" in body
    assert setup.records["vendor"].name not in body
    blank = client.get(_url("mapping_records", setup, kind="vendors"), {"q": "zeta", "blank": "—"})
    assert blank.content.decode().startswith('<option value="">—</option>')
    none = client.get(_url("mapping_records", setup, kind="vendors"), {"q": "no-such-thing"})
    assert "Nothing offered matches" in none.content.decode()
    assert client.get(_url("mapping_records", setup, kind="secrets")).status_code == 404


def test_a_constant_picker_renders_only_the_first_records(client_as: Any, setup: Setup) -> None:
    """However many vendors are offered, a constant's select lists 20 and a search box."""
    for i in range(30):
        VendorFactory(connection=setup.connection, name=f"Many {i:02d}")
    page = client_as(setup.admin).get(_url("mapping", setup)).content.decode()
    start = page.index('data-edit="line.supplier"')
    constant = page[page.index('data-source="constant"', start) :]
    constant = constant[: constant.index("</form>")]
    assert 'aria-label="Search Constant for Supplier"' in constant
    assert constant.count("<option") == 20


def test_custom_fields_are_declared_mapped_and_removed(client_as: Any, setup: Setup) -> None:
    """A required custom field becomes a required row; removing it is audited."""
    client = client_as(setup.admin)
    response = client.post(
        _url("custom_field_create", setup),
        {
            "api_name": "po-ref",
            "label": "PO reference",
            "type": "string",
            "level": "header",
            "required": "on",
        },
    )
    assert response["Location"].endswith("#row-custom.header.po-ref")
    definition = CustomFieldDefinition.objects.get(connection=setup.connection, api_name="po-ref")
    page = client.get(_url("mapping", setup)).content.decode()
    row = _row(page, "custom.header.po-ref")
    assert "PO reference" in row and "Required" in row
    assert any(p.target == "custom.header.po-ref" for p in mapping_problems(setup.version))
    client.post(_url("custom_field_delete", setup, pk=definition.pk))
    assert not CustomFieldDefinition.objects.filter(pk=definition.pk).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CUSTOM_FIELD_CHANGE).count() == 2


def test_a_lookup_custom_field_needs_values(client_as: Any, setup: Setup) -> None:
    response = client_as(setup.admin).post(
        _url("custom_field_create", setup),
        {"api_name": "project", "type": "lookup", "level": "line"},
        follow=True,
    )
    assert "A list-of-values field needs its values." in response.content.decode()
    client_as(setup.admin).post(
        _url("custom_field_create", setup),
        {"api_name": "project", "type": "lookup", "level": "line", "values": "Apollo, Zephyr"},
    )
    assert CustomFieldDefinition.objects.get(api_name="project").values == ["Apollo", "Zephyr"]


def test_a_standard_name_is_not_a_custom_field(client_as: Any, setup: Setup) -> None:
    response = client_as(setup.admin).post(
        _url("custom_field_create", setup),
        {"api_name": "justification", "level": "header"},
        follow=True,
    )
    assert "is a standard requisition field" in response.content.decode()


def test_a_published_version_mapping_is_read_only(client_as: Any, setup: Setup) -> None:
    setup.complete_mapping()
    version_publish(version=setup.version, user=setup.admin)
    client = client_as(setup.admin)
    page = client.get(_url("mapping", setup)).content.decode()
    assert 'data-testid="read-only"' in page and "Use constant" not in page
    response = client.post(_url("mapping_remove", setup), {"target": "need-by-date"}, follow=True)
    assert "edit the draft version instead" in response.content.decode()


def test_preview_shows_sample_answers_payload_and_no_problems(client_as: Any, setup: Setup) -> None:
    setup.complete_mapping()
    client = client_as(setup.admin)
    page = client.get(_url("preview", setup)).content.decode()
    assert 'data-testid="no-problems"' in page
    assert 'name="l1-description" value="Sample description"' in page
    start = page.index('data-testid="payload">') + len('data-testid="payload">')
    payload = json.loads(_unescape(page[start : page.index("</pre>", start)]))
    assert payload["requisition-lines"][0]["description"] == "Sample description"
    assert payload["ship-to-address"] == {"id": setup.records["address"].external_id}


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_preview_answers_are_editable_and_problems_grouped(client_as: Any, setup: Setup) -> None:
    """Edited answers change the payload; an empty required answer is an answers problem."""
    setup.complete_mapping()
    client = client_as(setup.admin)
    data = {
        "lines": "1",
        "r-title": "New laptops",
        "r-ship_to": str(setup.records["address"].pk),
        "l1-description": "",
        "l1-quantity": "3",
        "l1-unit_price": "999.50",
        "l1-unit_price-currency": setup.records["currency"].code,
        "l1-vendor": str(setup.records["vendor"].pk),
    }
    page = client.post(_url("preview", setup), data).content.decode()
    assert "New laptops" in page
    assert 'data-group="answers"' in page
    assert "999.50" in page
    data["l1-description"] = "Laptop"
    page = client.post(_url("preview", setup), {**data, "add_line": "1"}).content.decode()
    assert "Line 2" in page and 'name="lines" value="2"' in page


def test_preview_lists_mapping_problems_linked_to_their_rows(client_as: Any, setup: Setup) -> None:
    page = client_as(setup.admin).get(_url("preview", setup)).content.decode()
    assert 'data-group="mapping"' in page
    assert f"{_url('mapping', setup)}#row-line.currency" in page
    assert (
        "Send a test draft to Coupa</button>" in page
        and 'disabled title="Fix the problems first"' in page
    )


def test_test_draft_shows_the_created_requisition(
    client_as: Any, setup: Setup, respx_mock: respx.MockRouter
) -> None:
    setup.complete_mapping()
    base = setup.connection.base_url.rstrip("/")
    respx_mock.post(f"{base}/oauth2/token").respond(
        200, json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"}
    )
    respx_mock.post(f"{base}/api/requisitions").respond(201, json={"id": 4242, "status": "draft"})
    client = client_as(setup.admin)
    form = _preview_form(client, setup)
    page = client.post(_url("preview_test_draft", setup), form).content.decode()
    assert 'data-testid="draft-created"' in page and "4242" in page
    assert f"{base}/requisition_headers/4242" in page


def test_test_draft_shows_coupas_messages(
    client_as: Any, setup: Setup, respx_mock: respx.MockRouter
) -> None:
    setup.complete_mapping()
    base = setup.connection.base_url.rstrip("/")
    respx_mock.post(f"{base}/oauth2/token").respond(
        200, json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"}
    )
    respx_mock.post(f"{base}/api/requisitions").respond(
        422, json={"errors": {"requisition-lines": ["Supplier is inactive"]}}
    )
    client = client_as(setup.admin)
    response = client.post(_url("preview_test_draft", setup), _preview_form(client, setup))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="draft-error"' in body and "Supplier is inactive" in body


def _preview_form(client: Any, setup: Setup) -> dict[str, str]:
    """The preview form's inputs as the page renders them (sample answers)."""
    import re

    page = client.get(_url("preview", setup)).content.decode()
    form = page[
        page.index('data-testid="answers"') : page.index(
            "</form>", page.index('data-testid="answers"')
        )
    ]
    data = dict(re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', form))
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        data[name] = chosen.group(1) if chosen else ""
    data.pop("csrfmiddlewaretoken", None)
    return data


def test_another_organizations_version_is_not_found(
    client_as: Any, setup: Setup, make_user: Any, other_organization: Any
) -> None:
    stranger = make_user("admin", other_organization, email="admin@globex.test")
    client = client_as(stranger)
    assert client.get(_url("mapping", setup)).status_code == 404
    assert client.get(_url("preview", setup)).status_code == 404
    assert client.post(_url("mapping_accept", setup)).status_code == 404
    assert (
        client.post(
            _url("mapping_set", setup), {"target": "line.uom", "source": "constant"}
        ).status_code
        == 404
    )
    assert client.get(_url("mapping_records", setup, kind="vendors")).status_code == 404
    assert not FieldMapping.objects.filter(version=setup.version).exists()


@pytest.mark.parametrize("role", ["requester", "ops"])
def test_non_admins_are_forbidden(
    role: str, client_as: Any, setup: Setup, make_user: Any, organization: Any
) -> None:
    client = client_as(make_user(role, organization, email=f"{role}3@acme.test"))
    assert client.get(_url("mapping", setup)).status_code == 403
    assert client.get(_url("preview", setup)).status_code == 403
    assert client.post(_url("mapping_accept", setup)).status_code == 403
    assert client.post(_url("mapping_remove", setup), {"target": "x"}).status_code == 403
    assert client.post(_url("custom_field_create", setup), {"api_name": "x"}).status_code == 403
    assert client.post(_url("preview_test_draft", setup)).status_code == 403
    assert client.get(_url("mapping_records", setup, kind="vendors")).status_code == 403


def test_a_null_character_in_the_record_search_is_a_400_that_says_so(
    client_as: Any, setup: Setup
) -> None:
    """PostgreSQL refuses null characters in a query; the picker's search says so instead."""
    response = client_as(setup.admin).get(
        _url("mapping_records", setup, kind="vendors"), {"q": "ze\x00ta"}
    )
    assert response.status_code == 400
    assert "Search: null characters are not allowed." in response.content.decode()


def test_a_custom_field_label_longer_than_its_column_is_refused_with_a_sentence(
    client_as: Any, setup: Setup
) -> None:
    response = client_as(setup.admin).post(
        _url("custom_field_create", setup), {"api_name": "project", "label": "L" * 121}, follow=True
    )
    assert "Label: at most 120 characters (it has 121)." in response.content.decode()
    assert not CustomFieldDefinition.objects.filter(api_name="project").exists()
