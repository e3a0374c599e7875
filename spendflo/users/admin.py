from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from spendflo.users.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    """Platform superusers only: Django's admin requires is_staff, which org users never get."""

    list_display = ("email", "organization", "role", "is_active", "is_staff")
    list_filter = ("role", "is_active", "organization")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Organization", {"fields": ("organization", "role")}),
    )
