from __future__ import annotations

from django.core.management.base import CommandError

from spendflo.organizations.models import Organization


def organization_by_slug(slug: str) -> Organization:
    try:
        return Organization.objects.get(slug=slug)
    except Organization.DoesNotExist as exc:
        raise CommandError(f"No organization with the slug {slug!r}.") from exc
