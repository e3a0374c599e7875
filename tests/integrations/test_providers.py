"""The Procurement page shows whatever providers INTEGRATION_PROVIDERS names."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.providers import ProviderCard

pytestmark = pytest.mark.django_db


class FakeProvider:
    key = "fake"
    name = "Fake ERP"

    def procurement_card(self, *, organization, user) -> ProviderCard:
        return ProviderCard(
            template="coupa/_procurement_card.html",
            context={"name": f"Fake ERP for {organization.slug}", "state": "not_connected",
                     "state_label": "Not connected", "connection": None},
        )


def test_the_page_lists_the_configured_providers_in_order(client_as, admin_user, settings) -> None:
    settings.INTEGRATION_PROVIDERS = [
        "tests.integrations.test_providers.FakeProvider", "coupa.provider.CoupaProvider",
    ]
    html = client_as(admin_user).get(reverse("integrations:procurement")).content.decode()
    assert html.index('data-provider="Fake ERP for acme"') < html.index('data-provider="Coupa"')


def test_coupa_is_the_provider_by_default(client_as, ops_user) -> None:
    html = client_as(ops_user).get(reverse("integrations:procurement")).content.decode()
    assert 'data-provider="Coupa"' in html and "Not connected" in html
