"""All of ``/api/v1/``: each app registers its viewsets on one router."""

from rest_framework.routers import DefaultRouter

from partners import api as partners_api

# partners.api.AdmissionRequestViewSet is helpline.admission.api's create-only viewset (unchanged for POST)
# plus the partner-scoped list/detail, so both live at one URL.
from partners.api import AdmissionRequestViewSet

router = DefaultRouter()
router.register("admission-requests", AdmissionRequestViewSet, basename="admission-request")
partners_api.register(router)

urlpatterns: list = [*router.urls]
