from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from mes.inventory.models import Location, Nonconformance, StockItem


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("code", "name")


@admin.register(StockItem)
class StockItemAdmin(SimpleHistoryAdmin):
    list_display = ("serial", "revision", "status", "location", "reserved_for", "issued_to")
    list_filter = ("status", "revision")
    search_fields = ("serial",)


@admin.register(Nonconformance)
class NonconformanceAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "stock_item", "disposition", "raised_at")
    list_filter = ("disposition",)
