from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "spendflo.audit"
    label = "audit"
    verbose_name = "Audit trail"
