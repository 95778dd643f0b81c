from django.apps import AppConfig


class GuidesConfig(AppConfig):
    name = "helpline.site.guides"
    label = "guides"
    verbose_name = "Substance guides"
