from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Provider(models.TextChoices):
    COUPA = "coupa", "Coupa"


class Connection(models.Model):
    """One organization's connection to one provider instance (identified by its host).

    Changing to another host archives this row, with the data imported through it, and
    starts a new one, so records of two instances never mix; reconnecting to an archived
    host brings its row back.
    """

    class State(models.TextChoices):
        NOT_CONNECTED = "not_connected", "Not connected"
        # Credentials saved but never validated: only editing and validating make sense.
        DRAFT = "draft", "Draft"
        VALIDATING = "validating", "Validating"
        CONNECTED = "connected", "Connected"
        NEEDS_ATTENTION = "needs_attention", "Needs attention"
        DISCONNECTED = "disconnected", "Disconnected"

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="connections"
    )
    provider = models.CharField(max_length=32, choices=Provider.choices, default=Provider.COUPA)
    state = models.CharField(max_length=32, choices=State.choices, default=State.NOT_CONNECTED)
    state_reason = models.TextField(blank=True)
    base_url = models.CharField(max_length=255)
    host = models.CharField(max_length=255, help_text="The instance identity (normalised host).")
    secret_encrypted = models.TextField(
        blank=True, help_text="The provider's credential secret, Fernet-encrypted; never shown."
    )
    provider_settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="The provider's own non-secret settings (for Coupa: OAuth client ID, scopes).",
    )
    rate_limit = models.FloatField(default=20.0, help_text="Requests per second to the instance.")
    rate_burst = models.PositiveIntegerField(default=10)
    last_validated_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "provider", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider", "host"], name="connection_unique_instance"
            ),
            models.UniqueConstraint(
                fields=["organization", "provider"],
                condition=Q(archived_at__isnull=True),
                name="connection_one_current_per_provider",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.host} ({self.organization_id})"


class ConnectionValidation(models.Model):
    """One validation run of a connection; the page shows its steps as they progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="validations")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    steps = models.JSONField(default=list)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Validation {self.pk} of connection {self.connection_id}: {self.state}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)


class LeasedRun(models.Model):
    """A job that runs one at a time under a lease (`integrations.runs`).

    The worker running it holds `lease_token` and renews `heartbeat_at` as it makes
    progress; a run whose heartbeat went stale (its worker died) is failed, so a crash
    never blocks the next run for long. Reference syncs use it now; requisition pushes and
    PR/PO syncs are the next users.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    LIVE_STATES = (State.QUEUED, State.RUNNING)

    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES


class SyncRun(LeasedRun):
    """One sync of a connection's reference data: what triggered it, its progress and counts.

    At most one run per connection is live at a time: the running worker holds a lease it
    renews with a heartbeat after every page; a run whose heartbeat went stale is failed.
    """

    class Trigger(models.TextChoices):
        INITIAL = "initial", "Initial import"
        HOURLY = "hourly", "Hourly"
        MANUAL = "manual", "Manual"
        CHART_CHANGE = "chart_change", "Chart change"
        RECONCILE = "reconcile", "Daily reconcile"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    full = models.BooleanField(default=False, help_text="Walk the active sets (reconcile).")
    resources = models.JSONField(default=list, help_text="Empty: all resources.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    progress = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    requests = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    throttled = models.PositiveIntegerField(default=0, help_text="429 answers from Coupa.")
    follow_up_resources = models.JSONField(
        default=list,
        blank=True,
        help_text="Resources to sync again once this run ends (charts chosen while it ran).",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["connection", "state"])]

    def __str__(self) -> str:
        return f"Sync {self.pk} of connection {self.connection_id}: {self.state}"

    @property
    def change_summary(self) -> list[str]:
        """One line per resource that changed, e.g. "vendors: 3 new, 1 deactivated"."""
        lines = []
        for resource, counts in self.counts.items():
            parts = [
                f"{counts[key]} {label}"
                for key, label in (
                    ("created", "new"),
                    ("updated", "updated"),
                    ("deactivated", "deactivated"),
                )
                if counts.get(key)
            ]
            if parts:
                lines.append(f"{resource}: {', '.join(parts)}")
        return lines


class Alert(models.Model):
    """A problem of a connection its organization's admins were told of, open until it clears.

    At most one alert per connection and topic is open: a failure that repeats (an
    hourly sync failing every hour) finds it open and tells no one again; the first
    success after it resolves it, and that is told once too.
    """

    class Topic(models.TextChoices):
        SYNC = "sync", "Reference data sync"
        REQUISITION_SYNC = "requisition_sync", "Requisition and order sync"
        CONNECTION = "connection", "Connection"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="alerts")
    topic = models.CharField(max_length=32, choices=Topic.choices)
    message = models.TextField()
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "topic"],
                condition=Q(resolved_at__isnull=True),
                name="alert_one_open_per_topic",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_topic_display()} of connection {self.connection_id}: {self.message}"


class SyncWatermark(models.Model):
    """Per resource, the Coupa `updated-at` up to which a sync has read everything."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="watermarks")
    resource = models.CharField(max_length=32)
    watermark = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "resource"], name="sync_watermark_unique")
        ]

    def __str__(self) -> str:
        return f"{self.resource} of connection {self.connection_id}: {self.watermark}"


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task (beat sends it every minute)."""

    worker = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.worker} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class RateLimitBucket(models.Model):
    """The shared request budget of one instance (host) when Redis is absent.

    `tat` is the theoretical arrival time (GCRA, epoch seconds) of the next request;
    `penalty_until` the end of the slowed-down period after a 429. Written only by
    `integrations.ratelimit`. The table keeps the name it had under `coupa`.
    """

    host = models.CharField(max_length=255, unique=True)
    tat = models.FloatField(default=0.0)
    penalty_until = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "coupa_ratelimitbucket"
        verbose_name = "rate-limit bucket"

    def __str__(self) -> str:
        return self.host


class CustomFieldDefinition(models.Model):
    """A custom field of the provider's purchase requisition, as the admin declared it.

    Real instances add fields to the requisition header and lines, and often require
    some; the mapping must feed every required one. Declared per connection, because
    they belong to that instance.
    """

    class Level(models.TextChoices):
        HEADER = "header", "Requisition"
        LINE = "line", "Each line"

    class Type(models.TextChoices):
        STRING = "string", "Text"
        BOOLEAN = "boolean", "Yes/no"
        DATE = "date", "Date"
        DECIMAL = "decimal", "Decimal"
        LOOKUP = "lookup", "List of values"

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="custom_fields"
    )
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.HEADER)
    api_name = models.CharField(
        max_length=100, help_text="The field's API name on the instance, e.g. po-reference."
    )
    label = models.CharField(max_length=120, blank=True)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.STRING)
    required = models.BooleanField(default=False, help_text="The instance requires it.")
    values = models.JSONField(default=list, blank=True, help_text="The values of a lookup.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connection", "level", "api_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "level", "api_name"], name="custom_field_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.api_name} ({self.get_level_display()})"


class FieldMapping(models.Model):
    """Where one field of the provider's document gets its value, for one workflow version.

    `target` is the provider's field key (for Coupa, `requested-by`, `line.quantity` or
    `custom.header.po-reference`); what the keys mean and which are required is the
    provider's catalogue. The source is a form field, a constant, an attribute of the
    requester, or the request's own data; `default` backs an optional form field.
    """

    class Source(models.TextChoices):
        FORM_FIELD = "form_field", "Form field"
        CONSTANT = "constant", "Constant"
        REQUESTER = "requester", "Requester"
        REQUEST = "request", "Request data"

    version = models.ForeignKey(
        "workflows.WorkflowVersion", on_delete=models.CASCADE, related_name="mappings"
    )
    target = models.CharField(max_length=140)
    source = models.CharField(max_length=16, choices=Source.choices)
    form_field = models.ForeignKey(
        "workflows.FormField",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mappings",
    )
    value = models.JSONField(
        null=True,
        blank=True,
        help_text="A constant, or the requester/request attribute the value comes from.",
    )
    default = models.JSONField(
        null=True, blank=True, help_text="A constant used when an optional form field is empty."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["version", "target"]
        constraints = [
            models.UniqueConstraint(fields=["version", "target"], name="field_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.target} ← {self.get_source_display()}"
