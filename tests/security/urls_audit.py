"""A small admin site using AuditedAdminMixin on calls (tests only)."""

from django.contrib import admin
from django.urls import path

from helpline.audit import AuditedAdminMixin
from helpline.models import Call

site = admin.AdminSite(name="auditsite")


class AuditedCallAdmin(AuditedAdminMixin, admin.ModelAdmin):
    fields = ("service", "followup_note", "needs_followup")


site.register(Call, AuditedCallAdmin)

urlpatterns = [path("audited/", site.urls)]
