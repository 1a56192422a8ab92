from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from mes.repairs.models import DamageTicket, Module, PartRequest, Sector


@admin.register(Sector)
class SectorAdmin(admin.ModelAdmin):
    list_display = ("name",)


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ("name", "sector")
    list_filter = ("sector",)


@admin.register(DamageTicket)
class DamageTicketAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "severity", "status", "sector", "module", "reporter", "created_at")
    list_filter = ("severity", "status", "sector")


@admin.register(PartRequest)
class PartRequestAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "ticket", "revision", "quantity", "status", "needed_by")
    list_filter = ("status",)
