from django.contrib import admin

from drportal.opsapi.models import AlertRule


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "disaster_class", "severity", "scope_label", "auto_declare", "active"]
    list_editable = ["auto_declare", "active"]
    ordering = ["position", "name"]
