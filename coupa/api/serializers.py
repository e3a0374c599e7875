"""Serializers of the Coupa JSON API (connection, imported records, charts, syncs, pickers)."""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, Model
from rest_framework import serializers
from rest_framework.fields import empty

from coupa.connections.selectors import ACTIONS
from coupa.models import Account, ChartOfAccounts, Item, Vendor
from coupa.reference.registry import RESOURCES, SUPPORTING
from integrations.models import ConnectionValidation, SyncRun


class ValidationSerializer(serializers.ModelSerializer[ConnectionValidation]):
    class Meta:
        model = ConnectionValidation
        fields = ["id", "state", "steps", "error", "created_at", "finished_at"]


class ConnectionSerializer(serializers.Serializer[Any]):
    state = serializers.CharField(
        help_text="not_connected, draft (saved, never validated), validating, connected, "
        "needs_attention or disconnected."
    )
    state_label = serializers.CharField()
    state_reason = serializers.CharField()
    is_draft = serializers.BooleanField(
        help_text="Never validated: only editing and validating it make sense."
    )
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=ACTIONS),
        help_text="What can be done with the connection now, as the integration page offers it.",
    )
    base_url = serializers.CharField(allow_null=True)
    host = serializers.CharField(allow_null=True)
    client_id = serializers.CharField(allow_null=True)
    scopes_checked = serializers.BooleanField(
        help_text="A validation checked the scopes; until then missing_scopes is unknown."
    )
    granted_scopes = serializers.ListField(child=serializers.CharField())
    missing_scopes = serializers.ListField(child=serializers.CharField())
    rate_limit = serializers.FloatField(allow_null=True)
    last_validated_at = serializers.DateTimeField(allow_null=True)
    latest_validation = ValidationSerializer(allow_null=True)


class ConnectSerializer(serializers.Serializer[Any]):
    domain = serializers.CharField(max_length=255)
    client_id = serializers.CharField(max_length=255)
    client_secret = serializers.CharField(max_length=512, write_only=True)
    rate_limit = serializers.FloatField(min_value=1, max_value=25, required=False)


class UpdateSerializer(ConnectSerializer):
    domain = serializers.CharField(max_length=255, required=False)
    client_id = serializers.CharField(max_length=255, required=False)
    client_secret = serializers.CharField(
        max_length=512, write_only=True, required=False, allow_blank=True
    )


COMMON = ["id", "external_id", "active", "coupa_updated_at", "imported_at", "synced_at"]


class AccountSerializer(serializers.ModelSerializer[Account]):
    chart = serializers.CharField(source="chart.name", default=None, allow_null=True)
    offered = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Account
        fields = [
            *COMMON,
            "code",
            "name",
            "chart",
            "chart_external_id",
            "segments",
            "show_to_users",
            "offered",
        ]


class VendorSerializer(serializers.ModelSerializer[Vendor]):
    offered = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Vendor
        fields = [
            *COMMON,
            "name",
            "display_name",
            "number",
            "status",
            "primary_contact_email",
            "payment_term",
            "show_to_users",
            "offered",
        ]


class ItemSerializer(serializers.ModelSerializer[Item]):
    offered = serializers.CharField(read_only=True, default=None)

    class Meta:
        model = Item
        fields = [
            *COMMON,
            "name",
            "item_number",
            "description",
            "uom_code",
            "commodity_name",
            "show_to_users",
            "offered",
        ]


def _supporting_serializer(
    model: type[Model], extra: list[str]
) -> type[serializers.ModelSerializer[Any]]:
    meta = type("Meta", (), {"model": model, "fields": [*COMMON, *extra]})
    return type(f"{model.__name__}Serializer", (serializers.ModelSerializer,), {"Meta": meta})


SERIALIZERS: dict[str, type[serializers.ModelSerializer[Any]]] = {
    "accounts": AccountSerializer,
    "vendors": VendorSerializer,
    "items": ItemSerializer,
    # The supporting lists show their Coupa-owned columns as the registry declares them.
    **{
        name: _supporting_serializer(
            RESOURCES[name].model,
            [c for c in RESOURCES[name].columns if c not in ("active", "coupa_updated_at")],
        )
        for name in SUPPORTING
    },
}


def model_of(serializer: type[serializers.ModelSerializer[Any]]) -> Any:
    return serializer.Meta.model


class RequiredBooleanField(serializers.BooleanField):
    """A boolean that a form body must send too: DRF reads a missing checkbox as False,
    which for a bulk change would hide every record the filter matches."""

    default_empty_html = empty


class VisibilitySerializer(serializers.Serializer[Any]):
    show_to_users = RequiredBooleanField()


class BulkVisibilitySerializer(VisibilitySerializer):
    search = serializers.CharField(required=False, allow_blank=True, default="")
    chart = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=BigIntegerField.MAX_BIGINT,
    )
    visibility = serializers.ChoiceField(["", "shown", "hidden"], required=False, default="")
    active = serializers.ChoiceField(["", "active", "inactive"], required=False, default="")


class ChangedSerializer(serializers.Serializer[Any]):
    changed = serializers.IntegerField()


class ChartSerializer(serializers.ModelSerializer[ChartOfAccounts]):
    class Meta:
        model = ChartOfAccounts
        fields = [
            "id",
            "external_id",
            "name",
            "currency_code",
            "legal_entity_name",
            "dynamic",
            "selected",
            "active",
        ]


class ChartSelectionSerializer(serializers.Serializer[Any]):
    chart_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), allow_empty=False, min_length=1
    )


class SyncRunSerializer(serializers.ModelSerializer[SyncRun]):
    host = serializers.CharField(source="connection.host")
    requested_by = serializers.CharField(source="requested_by.email", default=None, allow_null=True)

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "host",
            "trigger",
            "state",
            "full",
            "resources",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "progress",
            "counts",
            "requests",
            "retries",
            "throttled",
            "error",
        ]


class SyncRequestSerializer(serializers.Serializer[Any]):
    full = serializers.BooleanField(required=False, default=False)
    resources = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class PickableAccountSerializer(serializers.ModelSerializer[Account]):
    chart = serializers.CharField(source="chart.name")

    class Meta:
        model = Account
        fields = ["id", "external_id", "code", "name", "chart"]


class PickableVendorSerializer(serializers.ModelSerializer[Vendor]):
    class Meta:
        model = Vendor
        fields = ["id", "external_id", "name", "display_name", "number"]


class PickableItemSerializer(serializers.ModelSerializer[Item]):
    class Meta:
        model = Item
        fields = ["id", "external_id", "name", "item_number", "description", "uom_code"]


PICKABLE_SERIALIZERS: dict[str, type[serializers.ModelSerializer[Any]]] = {
    "accounts": PickableAccountSerializer,
    "vendors": PickableVendorSerializer,
    "items": PickableItemSerializer,
}
