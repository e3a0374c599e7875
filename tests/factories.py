"""factory_boy factories shared by the test suite."""

from __future__ import annotations

import factory
from django.utils import timezone

from coupa.models import (
    Account,
    Address,
    ChartOfAccounts,
    Commodity,
    CoupaUser,
    Currency,
    Department,
    Item,
    Uom,
    Vendor,
)
from integrations.crypto import encrypt
from integrations.models import Connection, Provider, SyncRun
from spendflo.organizations.models import Organization
from spendflo.users.models import User

TEST_PASSWORD = "a-long-test-password-42"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    username = factory.SelfAttribute("email")
    organization = factory.SubFactory(OrganizationFactory)
    role = User.Role.REQUESTER
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A current, connected Coupa connection; `client_id`, `secret` and
    `post_token_pause` go where the product stores them."""

    class Meta:
        model = Connection
        exclude = ("client_id", "secret", "post_token_pause")

    organization = factory.SubFactory(OrganizationFactory)
    provider = Provider.COUPA
    state = Connection.State.CONNECTED
    host = factory.Sequence(lambda n: f"tenant{n}.coupahost.com")
    base_url = factory.LazyAttribute(lambda o: f"https://{o.host}")
    client_id = "client-1"
    secret = "s3cret"
    post_token_pause = 0.0
    secret_encrypted = factory.LazyAttribute(lambda o: encrypt(o.secret))
    provider_settings = factory.LazyAttribute(
        lambda o: {"client_id": o.client_id, "post_token_pause": o.post_token_pause}
    )


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    connection = factory.SubFactory(ConnectionFactory)
    trigger = SyncRun.Trigger.MANUAL


class _RecordFactory(factory.django.DjangoModelFactory):
    connection = factory.SubFactory(ConnectionFactory)
    external_id = factory.Sequence(lambda n: 1000 + n)
    active = True
    imported_at = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)


class ChartFactory(_RecordFactory):
    class Meta:
        model = ChartOfAccounts

    name = factory.Sequence(lambda n: f"Chart {n}")
    currency_code = "USD"
    selected = True


class AccountFactory(_RecordFactory):
    class Meta:
        model = Account

    chart = factory.SubFactory(ChartFactory, connection=factory.SelfAttribute("..connection"))
    chart_external_id = factory.SelfAttribute("chart.external_id")
    code = factory.Sequence(lambda n: f"ACC-{n}")
    name = factory.Sequence(lambda n: f"Account {n}")


class VendorFactory(_RecordFactory):
    class Meta:
        model = Vendor

    name = factory.Sequence(lambda n: f"Vendor {n}")
    status = "active"


class ItemFactory(_RecordFactory):
    class Meta:
        model = Item

    name = factory.Sequence(lambda n: f"Item {n}")


class AddressFactory(_RecordFactory):
    class Meta:
        model = Address

    name = factory.Sequence(lambda n: f"Site {n}")
    location_code = factory.Sequence(lambda n: f"LOC-{n}")


class CurrencyFactory(_RecordFactory):
    class Meta:
        model = Currency

    code = "USD"
    name = "US Dollar"


class UomFactory(_RecordFactory):
    class Meta:
        model = Uom

    code = "EA"
    name = "Each"


class DepartmentFactory(_RecordFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"Department {n}")


class CommodityFactory(_RecordFactory):
    class Meta:
        model = Commodity

    name = factory.Sequence(lambda n: f"Commodity {n}")


class CoupaUserFactory(_RecordFactory):
    class Meta:
        model = CoupaUser

    login = factory.Sequence(lambda n: f"coupa{n}")
    email = factory.Sequence(lambda n: f"coupa{n}@example.test")
