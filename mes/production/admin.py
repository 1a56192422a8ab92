from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from mes.production.models import FeedstockLot, Job, Machine, WorkOrder


@admin.register(Machine)
class MachineAdmin(SimpleHistoryAdmin):
    list_display = ("name", "machine_type", "firmware", "state", "port_url", "loaded_lot")
    list_filter = ("machine_type", "state")


@admin.register(FeedstockLot)
class FeedstockLotAdmin(SimpleHistoryAdmin):
    list_display = ("code", "material", "quantity_on_hand", "unit", "received_at")
    list_filter = ("material",)


@admin.register(WorkOrder)
class WorkOrderAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "part_request", "revision", "quantity", "status")
    list_filter = ("status",)


@admin.register(Job)
class JobAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "machine", "program", "state", "severity_rank", "queued_at")
    list_filter = ("state", "machine")
