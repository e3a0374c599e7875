from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "spendflo.users"
    label = "users"
    verbose_name = "Users and roles"
