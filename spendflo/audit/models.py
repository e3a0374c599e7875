from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what and when: connects, edits, disconnects, chart changes, toggles, syncs.

    The table keeps the name it had when the trail lived in `integrations`.
    """

    class Action(models.TextChoices):
        CONNECT = "connect", "Connected"
        CONNECT_FAILED = "connect_failed", "Connection attempt failed"
        EDIT = "edit", "Edited configuration"
        VALIDATE = "validate", "Validated connection"
        DISCONNECT = "disconnect", "Disconnected"
        ARCHIVE = "archive", "Archived instance"
        CHARTS_CHANGE = "charts_change", "Changed charts of accounts"
        TOGGLE = "toggle", "Changed Show to Users"
        SYNC_REQUEST = "sync_request", "Requested a sync"
        KEY_ROTATION = "key_rotation", "Rotated encryption key"
        NEEDS_ATTENTION = "needs_attention", "Connection needs attention"
        WORKFLOW_CHANGE = "workflow_change", "Changed a workflow"
        WORKFLOW_PUBLISH = "workflow_publish", "Published a workflow"
        MAPPING_CHANGE = "mapping_change", "Changed a field mapping"
        CUSTOM_FIELD_CHANGE = "custom_field_change", "Changed Coupa custom fields"
        SIGNIN_LOCKOUT = "signin_lockout", "Sign-in locked after failed attempts"
        SETTINGS_CHANGE = "settings_change", "Changed organization settings"

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="audit_events"
    )
    connection = models.ForeignKey(
        "integrations.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=255, blank=True, help_text="Email or 'system'.")
    action = models.CharField(max_length=32, choices=Action.choices)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "integrations_auditevent"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor_label or 'system'}: {self.summary}"
