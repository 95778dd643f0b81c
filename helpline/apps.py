from django.apps import AppConfig


class HelplineConfig(AppConfig):
    name = "helpline"
    verbose_name = "Helpline (calls and requests)"

    def ready(self) -> None:
        # Registers the admission tasks: the admission services enqueue them by name, never importing them
        # (the tasks call the services).
        from helpline.admission import tasks  # noqa: F401
