from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and billing"

    def ready(self) -> None:
        from partners import events
        from partners.directory.routing_source import PartnersDirectory
        from partners.models import ClosedDate, Facility, OpeningHours, Partner
        from routing import directory
        from routing.services import directory_changed

        # Routing reads the directory through this source (routing imports no other app).
        directory.register(PartnersDirectory())
        # Any directory edit bumps the directory version, so every process
        # recompiles its area index (routing.selectors) on its next decision.
        for model in (Partner, Facility, OpeningHours, ClosedDate):
            post_save.connect(directory_changed, sender=model, dispatch_uid=f"routing-directory-save-{model.__name__}")
            post_delete.connect(
                directory_changed, sender=model, dispatch_uid=f"routing-directory-delete-{model.__name__}"
            )
        events.connect()
