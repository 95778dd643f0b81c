from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # Any directory edit bumps the directory version, so every process
        # recompiles its area index (routing.selectors) on its next decision.
        from partners.models import ClosedDate, Facility, OpeningHours, Partner
        from routing.services import directory_changed

        for model in (Partner, Facility, OpeningHours, ClosedDate):
            post_save.connect(directory_changed, sender=model, dispatch_uid=f"routing-directory-save-{model.__name__}")
            post_delete.connect(
                directory_changed, sender=model, dispatch_uid=f"routing-directory-delete-{model.__name__}"
            )
