from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from vision.models import Calibration, Inspection, InspectionRequest, Station


@admin.register(Station)
class StationAdmin(SimpleHistoryAdmin):
    list_display = ("name", "user", "location", "callback_url")


@admin.register(Calibration)
class CalibrationAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "rms_px", "plane_rms_px", "n_views", "created_by", "created_at")
    list_filter = ("station",)
    # Calibrations are versions: made by the calibrate service, never edited.
    readonly_fields = [f.name for f in Calibration._meta.fields]


@admin.register(Inspection)
class InspectionAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "verdict", "station", "inspector", "calibration", "created_at")
    list_filter = ("verdict",)


@admin.register(InspectionRequest)
class InspectionRequestAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "status", "station", "stock_item", "created_at", "finished_at")
    list_filter = ("status", "station")
    readonly_fields = [f.name for f in InspectionRequest._meta.fields]
