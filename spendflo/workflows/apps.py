from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "spendflo.workflows"
    label = "workflows"
    verbose_name = "Request forms and workflows"
