"""A small admin site using AuditedAdminMixin on calls (tests only)."""

from django.contrib import admin
from django.urls import path

from config import urls as config_urls
from helpline.audit import AuditedAdminMixin
from helpline.models import Call

site = admin.AdminSite(name="auditsite")


class AuditedCallAdmin(AuditedAdminMixin, admin.ModelAdmin):
    fields = ("service", "followup_note", "needs_followup")


site.register(Call, AuditedCallAdmin)

# The project URLs too: the admin templates link to the staff header's pages (the intake home, the queue, the site).
urlpatterns = [path("audited/", site.urls), *config_urls.urlpatterns]
