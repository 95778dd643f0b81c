from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners and billing"

    def ready(self) -> None:
        from helpline import retention
        from helpline.site import directory as public_directory
        from partners import events
        from partners.billing.retention import BillingHashes
        from partners.directory.public_listing import PartnersListing
        from partners.directory.routing_source import PartnersDirectory
        from partners.models import ClosedDate, Facility, OpeningHours, Partner
        from partners.webhooks import tasks  # noqa: F401 - registers the webhook tasks, enqueued by name
        from routing import directory
        from routing.services import directory_changed

        # Routing reads the directory through this source (routing imports no other app).
        directory.register(PartnersDirectory())
        # The helpline imports no partners module: its public pages read the listing through this source, and
        # its caller-data purge clears billing's copy of the hashes through this holder.
        public_directory.register(PartnersListing())
        retention.register_hash_holder("partners.billing", BillingHashes())
        # Any directory edit bumps the directory version, so every process
        # recompiles its area index (routing.selectors) on its next decision.
        for model in (Partner, Facility, OpeningHours, ClosedDate):
            post_save.connect(directory_changed, sender=model, dispatch_uid=f"routing-directory-save-{model.__name__}")
            post_delete.connect(
                directory_changed, sender=model, dispatch_uid=f"routing-directory-delete-{model.__name__}"
            )
        events.connect()
