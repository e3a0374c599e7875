from django.apps import AppConfig


class CoupaConfig(AppConfig):
    name = "coupa"
    label = "coupa"
    verbose_name = "Coupa"

    def ready(self) -> None:
        # Services enqueue tasks by name (`integrations.jobs`); importing the task module
        # registers them in every process, not only in workers (which autodiscover).
        from coupa import tasks  # noqa: F401
        from coupa.reference.counts import counts_signals_connect

        counts_signals_connect()
