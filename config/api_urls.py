"""All of ``/api/v1/``: each app registers its viewsets on one router."""

from rest_framework.routers import DefaultRouter

from helpline.api import AdmissionRequestViewSet

router = DefaultRouter()
router.register("admission-requests", AdmissionRequestViewSet, basename="admission-request")

urlpatterns: list = [*router.urls]
