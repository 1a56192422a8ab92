from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from mes.catalog.models import Part, PartRevision, Program


@admin.register(Part)
class PartAdmin(SimpleHistoryAdmin):
    list_display = ("number", "name", "kind")
    search_fields = ("number", "name")
    list_filter = ("kind",)


@admin.register(PartRevision)
class PartRevisionAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "material", "released", "released_at")
    list_filter = ("released",)
    search_fields = ("part__number",)


@admin.register(Program)
class ProgramAdmin(SimpleHistoryAdmin):
    list_display = ("name", "revision", "machine_type", "firmware", "released", "line_count")
    list_filter = ("machine_type", "firmware", "released")
    readonly_fields = ("sha256", "line_count", "estimated_seconds", "material_use", "bounds")
