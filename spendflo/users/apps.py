from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "spendflo.users"
    label = "users"
    verbose_name = "Users and roles"

    def ready(self) -> None:
        from spendflo.users import checks  # noqa: F401  (registers the deploy checks)
