from django.urls import path

from helpline.admission import views as admission_views
from helpline.site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("treatment/", views.services, name="services"),
    path("treatment/<slug:code>/", views.service_detail, name="service_detail"),
    path("providers/", views.directory, name="directory"),
    path("terms/", views.terms, name="terms"),
    path("privacy/", views.privacy, name="privacy"),
    path("request-a-callback/", admission_views.admission_request, name="admission_request"),
    path(
        "request-a-callback/thanks/<str:token>/", admission_views.admission_confirmation, name="admission_confirmation"
    ),
    path("request-a-callback/withdraw/<str:token>/", admission_views.admission_withdraw, name="admission_withdraw"),
]
