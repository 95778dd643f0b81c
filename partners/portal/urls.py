from django.contrib.auth import views as auth_views
from django.urls import path

from partners.portal import auth as portal_auth
from partners.portal import views as portal

app_name = "portal"

urlpatterns = [
    path("login/", portal.PortalLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", portal_auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", portal_auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        portal_auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),  # fmt: skip
    path("password-reset/done/", portal_auth.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("", portal.dashboard, name="dashboard"),
    path("calls/", portal.calls, name="calls"),
    path("calls/export.csv", portal.calls_export, name="calls_export"),
    path("calls/<int:pk>/", portal.call_detail, name="call_detail"),
    path("requests/", portal.requests_list, name="requests"),
    path("requests/export.csv", portal.requests_export, name="requests_export"),
    path("requests/<uuid:public_id>/", portal.request_detail, name="request_detail"),
    path("ledger/", portal.ledger, name="ledger"),
    path("ledger/export.csv", portal.ledger_export, name="ledger_export"),
    path("invoices/", portal.invoices, name="invoices"),
    path("invoices/export.csv", portal.invoices_export, name="invoices_export"),
    path("invoices/<int:pk>/", portal.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/invoice.csv", portal.invoice_download_csv, name="invoice_csv"),
    path("invoices/<int:pk>/invoice.pdf", portal.invoice_download_pdf, name="invoice_pdf"),
    path("disputes/", portal.disputes, name="disputes"),
    path("disputes/export.csv", portal.disputes_export, name="disputes_export"),
    path("webhooks/", portal.webhook_log, name="webhooks"),
    path("webhooks/secret/", portal.webhook_secret_rotate, name="webhook_secret_rotate"),
    path("settings/", portal.account, name="settings"),
    path("settings/pause/", portal.pause, name="pause"),
    path("settings/resume/", portal.resume, name="resume"),
    path("facilities/<int:pk>/hours/", portal.facility_hours, name="facility_hours"),
    path("staff/reports/", portal.staff_reports, name="staff_reports"),
    path("staff/reports/sources/", portal.staff_sources, name="staff_sources"),
    path("staff/reports/sources/export.csv", portal.staff_sources_export, name="staff_sources_export"),
]
