"""Workflows, their frozen versions, request forms and steps.

A workflow is what an admin names ("IT hardware"); what requesters fill in and what
happens next lives on a **version**. Publishing freezes a version; editing a published
workflow works on a new draft version, so a request keeps the version it was submitted
on. Nothing here knows a provider: how answers land in a procurement system's document
is the provider's field mapping (`integrations.models.FieldMapping`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Workflow(models.Model):
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="workflows"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="workflow_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """One version of a workflow: its form, its steps; frozen once published."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"  # replaced by a later published version

    class Approval(models.TextChoices):
        NONE = "none", "No in-app approval"
        USER = "user", "A named user approves"
        ANY_ADMIN = "any_admin", "Any admin approves"

    class DocumentStatus(models.TextChoices):
        """The status the purchase requisition must have once created in the provider."""

        DRAFT = "draft", "Draft (someone submits it in the procurement system)"
        SUBMITTED = "submitted", "Submitted for approval"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    approval = models.CharField(max_length=16, choices=Approval.choices, default=Approval.NONE)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The approver when approval is by a named user.",
    )
    document_status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="workflow_version_unique"),
            models.UniqueConstraint(
                fields=["workflow"],
                condition=Q(state="draft"),
                name="workflow_one_draft_version",
            ),
            models.UniqueConstraint(
                fields=["workflow"],
                condition=Q(state="published"),
                name="workflow_one_published_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number} ({self.get_state_display()})"

    @property
    def is_editable(self) -> bool:
        return self.state == self.State.DRAFT


class FormField(models.Model):
    """One question of a version's request form, on the request or on each of its lines."""

    class Type(models.TextChoices):
        SHORT_TEXT = "short_text", "Short text"
        LONG_TEXT = "long_text", "Long text"
        NUMBER = "number", "Number"
        MONEY = "money", "Money (amount and currency)"
        DATE = "date", "Date"
        CHOICE = "choice", "Single choice"
        USER = "user", "User"
        VENDOR = "vendor", "Vendor"
        ITEM = "item", "Item"
        ACCOUNT = "account", "Account"
        SHIP_TO = "ship_to", "Ship-to address"
        DEPARTMENT = "department", "Department"
        COMMODITY = "commodity", "Commodity"
        UOM = "uom", "Unit of measure"
        CURRENCY = "currency", "Currency"

    class Group(models.TextChoices):
        REQUEST = "request", "Request"
        LINE = "line", "Each line"

    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="fields")
    group = models.CharField(max_length=16, choices=Group.choices, default=Group.REQUEST)
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=120)
    api_name = models.SlugField(
        max_length=64, help_text="Stable name used by the mapping and the API (letters, digits, _)."
    )
    type = models.CharField(max_length=16, choices=Type.choices)
    help_text = models.CharField(max_length=300, blank=True)
    required = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True, help_text="Options of a single choice.")

    #: Types whose answer is a record picked from imported reference data.
    PICKERS = frozenset(
        {
            Type.VENDOR,
            Type.ITEM,
            Type.ACCOUNT,
            Type.SHIP_TO,
            Type.DEPARTMENT,
            Type.COMMODITY,
            Type.UOM,
            Type.CURRENCY,
        }
    )

    class Meta:
        ordering = ["version", "group", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version", "api_name"], name="form_field_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.api_name})"

    @property
    def is_picker(self) -> bool:
        return self.type in self.PICKERS


class PurchaseRequest(models.Model):
    """A requester's answers to a published version's form, on their way to a requisition.

    The request keeps the version it was submitted on. Its state is the product's view;
    the provider's document (the Coupa PR, its POs) is tracked by the provider and shown
    beside it.
    """

    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        REJECTED = "rejected", "Rejected"
        SENDING = "sending", "Sending to Coupa"
        PR_CREATED = "pr_created", "PR created"
        PR_FAILED = "pr_failed", "PR failed"

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="purchase_requests"
    )
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchase_requests"
    )
    number = models.PositiveIntegerField(help_text="Per organization: SF-<number>.")
    title = models.CharField(max_length=200)
    answers = models.JSONField(default=dict, help_text='{"request": {...}, "lines": [{...}]}')
    state = models.CharField(max_length=24, choices=State.choices)
    labels = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the requester saw of picked records, for display only: "
        '{"request": {api_name: label}, "lines": [{...}]}; the answers hold the ids.',
    )
    submit_token = models.CharField(
        max_length=64,
        blank=True,
        help_text="The form's one-time token: a second submit of the same form is the same request.",
    )
    submitted_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="request_unique_number"
            ),
            models.UniqueConstraint(
                fields=["requester", "submit_token"],
                condition=~Q(submit_token=""),
                name="request_unique_submit_token",
            ),
        ]
        indexes = [models.Index(fields=["organization", "state"])]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"SF-{self.number}"


class RequestEvent(models.Model):
    """One entry of a request's timeline: submitted, approved, PR created, PO issued, …"""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        QUEUED = "queued", "Sent to Coupa"
        PR_CREATED = "pr_created", "PR created"
        PR_FAILED = "pr_failed", "PR failed"
        PR_STATUS = "pr_status", "PR status changed"
        PO = "po", "Purchase order"
        RETRIED = "retried", "Retried"

    request = models.ForeignKey(PurchaseRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.message}"


class Notification(models.Model):
    """An in-app notice for one person, emailed too when it is made: of a request event,
    or (no request) an alert to the organization's admins, such as a failing sync."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    request = models.ForeignKey(
        PurchaseRequest,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    event = models.ForeignKey(
        RequestEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    message = models.CharField(max_length=500)
    link = models.CharField(
        max_length=300, blank=True, help_text="Where a notice without a request leads."
    )
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "recipient"], name="notification_once")
        ]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.message}"
