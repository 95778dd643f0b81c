"""All of ``/api/v1/``: each app registers its viewsets on one router."""

from django.urls import path
from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns: list = [*router.urls]
