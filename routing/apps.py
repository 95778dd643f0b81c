from django.apps import AppConfig


class RoutingConfig(AppConfig):
    """Routing imports no other app: the directory's owner registers its source and
    connects ``routing.services.directory_changed`` to its models (``partners.apps``)."""

    name = "routing"
    verbose_name = "Routing"
