import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
_site = get_wsgi_application()

from config.webhooks import SplitApplication  # noqa: E402 - after Django is set up

application = SplitApplication(_site)
