from __future__ import annotations

from django.db import models


class Organization(models.Model):
    """A tenant: every piece of customer data belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    show_new_records_by_default = models.BooleanField(
        default=True,
        help_text="Whether newly imported Coupa records are offered to requesters.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        db_default="UTC",
        help_text="The IANA time zone (such as Europe/Paris) pages show dates and times in.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
