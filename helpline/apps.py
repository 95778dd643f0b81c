from django.apps import AppConfig


class HelplineConfig(AppConfig):
    name = "helpline"
    verbose_name = "Helpline (calls and requests)"
