from django.urls import path

from helpline import views

urlpatterns = [
    path("", views.home, name="home"),
    path("treatment/", views.services, name="services"),
    path("treatment/<slug:code>/", views.service_detail, name="service_detail"),
    path("providers/", views.directory, name="directory"),
    path("terms/", views.terms, name="terms"),
    path("privacy/", views.privacy, name="privacy"),
    path("request-a-callback/", views.admission_request, name="admission_request"),
]
