from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "spendflo.organizations"
    label = "organizations"
    verbose_name = "Organizations"
