from django.apps import AppConfig


class CoupaConfig(AppConfig):
    name = "coupa"
    label = "coupa"
    verbose_name = "Coupa"
