"""Reference data imported from Coupa, keyed by (connection, Coupa id)."""

from __future__ import annotations

from django.db import models

# --- reference data imported from Coupa ------------------------------------------------
#
# Every record is keyed by (connection, Coupa id): a connection is one Coupa instance, so
# ids of two instances never mix. Records are never deleted: Coupa deactivates instead
# (coupa-api.md §4), and so do we.


class CoupaRecordModel(models.Model):
    """Fields every imported Coupa record has."""

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="+"
    )
    external_id = models.BigIntegerField(help_text="The record's Coupa id.")
    active = models.BooleanField(default=True)
    coupa_updated_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(help_text="When the record was first imported.")
    synced_at = models.DateTimeField(help_text="When a sync last wrote the record.")

    class Meta:
        abstract = True


class PickableRecordModel(CoupaRecordModel):
    """A record requesters may pick in request forms when shown to users."""

    show_to_users = models.BooleanField(default=True)

    # Columns the admin owns: imports write them on new rows only.
    ADMIN_FIELDS: tuple[str, ...] = ("show_to_users",)

    class Meta:
        abstract = True


class ChartOfAccounts(CoupaRecordModel):
    """A Coupa account type. Only the charts an admin selects have their accounts imported."""

    name = models.CharField(max_length=255)
    currency_code = models.CharField(max_length=16, blank=True)
    legal_entity_name = models.CharField(max_length=255, blank=True)
    dynamic = models.BooleanField(
        default=False, help_text="Coupa creates accounts on first use; the list is incomplete."
    )
    selected = models.BooleanField(default=False)

    ADMIN_FIELDS: tuple[str, ...] = ("selected",)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "charts of accounts"
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="coupa_chart_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Account(PickableRecordModel):
    chart = models.ForeignKey(
        ChartOfAccounts, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    chart_external_id = models.BigIntegerField(null=True, blank=True)
    code = models.CharField(max_length=2100)
    name = models.CharField(max_length=255, blank=True)
    segments = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="coupa_account_unique"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "chart", "active", "show_to_users"]),
            # Pickers list offered records in this order, a page at a time.
            models.Index(fields=["connection", "code", "id"], name="coupa_account_picker"),
        ]

    def __str__(self) -> str:
        return self.code


class Vendor(PickableRecordModel):
    """A Coupa supplier."""

    name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    number = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=32, blank=True)
    primary_contact_email = models.CharField(max_length=255, blank=True)
    payment_term = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="coupa_vendor_unique"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "active", "show_to_users"]),
            models.Index(fields=["connection", "name", "id"], name="coupa_vendor_picker"),
        ]

    def __str__(self) -> str:
        return self.name


class Item(PickableRecordModel):
    """A Coupa catalog item."""

    name = models.CharField(max_length=255)
    item_number = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    uom_code = models.CharField(max_length=32, blank=True)
    commodity_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="coupa_item_unique")
        ]
        indexes = [
            models.Index(fields=["connection", "active", "show_to_users"]),
            models.Index(fields=["connection", "name", "id"], name="coupa_item_picker"),
        ]

    def __str__(self) -> str:
        return self.name


class RecordCounts(models.Model):
    """A tab's counts of one connection's accounts, vendors or items, kept between reads.

    Counting reads every row of the connection (about 15 ms over 200,000 items), and the
    Items tab and every Show to Users toggle show the counts. Kept on PostgreSQL only;
    how rows are read, marked stale and adjusted is coupa.reference.counts.
    """

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=16)  # accounts, vendors or items
    imported = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0)
    offered = models.PositiveIntegerField(default=0)
    offers = models.BooleanField(
        default=False, help_text="Whether the connection offered records when counted."
    )
    valid = models.BooleanField(default=False)
    counted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "record counts"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind"], name="coupa_record_counts_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of connection {self.connection_id}"


class CoupaUser(CoupaRecordModel):
    """A Coupa user (requesters map to them on requisitions)."""

    login = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True)
    firstname = models.CharField(max_length=255, blank=True)
    lastname = models.CharField(max_length=255, blank=True)
    employee_number = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["login"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="coupa_user_unique")
        ]

    def __str__(self) -> str:
        return self.login


class Address(CoupaRecordModel):
    name = models.CharField(max_length=255, blank=True)
    location_code = models.CharField(max_length=255, blank=True)
    lines = models.JSONField(default=list, blank=True, help_text="Street lines 1 to 4.")
    city = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=255, blank=True)
    postal_code = models.CharField(max_length=64, blank=True)
    country_code = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="coupa_address_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.location_code


class Commodity(CoupaRecordModel):
    name = models.CharField(max_length=255)
    code = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "commodities"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="coupa_commodity_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Uom(CoupaRecordModel):
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "unit of measure"
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="coupa_uom_unique")
        ]

    def __str__(self) -> str:
        return self.code


class Currency(CoupaRecordModel):
    code = models.CharField(max_length=16)
    name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="coupa_currency_unique"
            )
        ]

    def __str__(self) -> str:
        return self.code


class Department(CoupaRecordModel):
    name = models.CharField(max_length=255)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="coupa_department_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


# --- purchase requisitions the product creates, and their purchase orders ----------------


class Requisition(models.Model):
    """The Coupa PR of one request: created exactly once, then followed to its POs.

    `marker` is the request's unique reference carried in the payload (a custom field
    where the instance has one, else in `req-title`), so a creation whose outcome is
    unknown can be looked up before anything is posted again (coupa-api.md 6.5, 6.6).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"  # a POST may be in flight: look up before any retry
        CREATED = "created", "Created in Coupa"
        FAILED = "failed", "Failed"

    request = models.OneToOneField(
        "workflows.PurchaseRequest", on_delete=models.CASCADE, related_name="coupa_requisition"
    )
    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.PROTECT, related_name="+"
    )
    marker = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    submit = models.BooleanField(help_text="Submit for approval (else create as a draft).")
    payload = models.JSONField(default=dict, blank=True, help_text="The body sent (no secrets).")
    external_id = models.BigIntegerField(null=True, blank=True, help_text="The PR's Coupa id.")
    status = models.CharField(max_length=50, blank=True, help_text="Coupa's status of the PR.")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    coupa_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="coupa_requisition_unique"
            )
        ]
        indexes = [models.Index(fields=["connection", "state", "status"])]

    def __str__(self) -> str:
        return f"PR {self.external_id or '-'} ({self.marker})"


class RequisitionAttempt(models.Model):
    """One try at creating a PR: when, what happened, Coupa's answer (never secrets)."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created"
        ADOPTED = "adopted", "Found already created"
        REFUSED = "refused", "Refused by Coupa"
        UNKNOWN = "unknown", "No answer (looked up before any retry)"
        ERROR = "error", "Error"

    requisition = models.ForeignKey(Requisition, on_delete=models.CASCADE, related_name="tries")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    messages = models.JSONField(default=list, blank=True, help_text="Coupa's messages, in order.")
    endpoint = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["requisition", "started_at", "pk"]

    def __str__(self) -> str:
        return f"{self.requisition_id} {self.outcome or 'running'}"


class PurchaseOrder(models.Model):
    """A Coupa purchase order made from one of the product's PRs (one PR can make several)."""

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="+"
    )
    requisition = models.ForeignKey(
        Requisition, on_delete=models.CASCADE, related_name="purchase_orders"
    )
    external_id = models.BigIntegerField(help_text="The PO's Coupa id.")
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=50, blank=True)
    supplier_name = models.CharField(max_length=255, blank=True)
    supplier_number = models.CharField(max_length=255, blank=True)
    total = models.DecimalField(max_digits=32, decimal_places=4, null=True, blank=True)
    currency_code = models.CharField(max_length=16, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    coupa_created_at = models.DateTimeField(null=True, blank=True)
    coupa_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["requisition", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="coupa_po_unique")
        ]

    def __str__(self) -> str:
        return f"PO {self.number or self.external_id}"
