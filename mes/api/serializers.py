"""Serializers: output shapes of records, and input shapes that views validate before a service runs."""

from rest_framework import serializers

from machines.models import OVERRIDE_CHANGES, MachineCommand
from mes.catalog.models import Part, PartRevision, Program
from mes.inventory.models import StockItem
from mes.production.models import FeedstockLot, Job, Machine, WorkOrder
from mes.repairs.models import DamageTicket, Module, PartRequest, Sector, Severity
from vision.models import Verdict


class PartSerializer(serializers.ModelSerializer):
    class Meta:
        model = Part
        fields = ["id", "number", "name", "kind", "description"]


class PartRevisionSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = PartRevision
        fields = ["id", "label", "part", "revision", "material", "spec", "released", "released_at"]


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = [
            "id",
            "revision",
            "name",
            "machine_type",
            "firmware",
            "material",
            "sha256",
            "line_count",
            "estimated_seconds",
            "material_use",
            "material_unit",
            "parts_per_run",
            "bounds",
            "released",
        ]


class TicketSerializer(serializers.ModelSerializer):
    sector = serializers.SlugRelatedField(slug_field="name", read_only=True)
    module = serializers.SlugRelatedField(slug_field="name", read_only=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    label = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = DamageTicket
        fields = [
            "id",
            "label",
            "sector",
            "module",
            "severity",
            "status",
            "description",
            "reporter",
            "assignee",
            "created_at",
            "resolved_at",
            "closed_at",
            "resolution",
        ]


class TicketFileSerializer(serializers.Serializer):
    sector = serializers.SlugRelatedField(slug_field="name", queryset=Sector.objects.all())
    module = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    description = serializers.CharField(max_length=4000)

    def validate(self, attrs):
        module = Module.objects.filter(sector=attrs["sector"], name=attrs["module"]).first()
        if module is None:
            raise serializers.ValidationError(
                {"module": f"No module {attrs['module']} in sector {attrs['sector'].name}."}
            )
        attrs["module"] = module
        return attrs


class ResolutionSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=4000)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=4000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class PartRequestSerializer(serializers.ModelSerializer):
    revision_label = serializers.CharField(source="revision.__str__", read_only=True)
    units_held = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = PartRequest
        fields = [
            "id",
            "ticket",
            "revision",
            "revision_label",
            "quantity",
            "needed_by",
            "status",
            "severity_rank",
            "created_at",
            "units_held",
        ]


class PartRequestCreateSerializer(serializers.Serializer):
    ticket = serializers.PrimaryKeyRelatedField(queryset=DamageTicket.objects.all())
    revision = serializers.PrimaryKeyRelatedField(queryset=PartRevision.objects.all())
    quantity = serializers.IntegerField(min_value=1, max_value=1000)
    needed_by = serializers.DateTimeField(required=False, allow_null=True)


class StockItemSerializer(serializers.ModelSerializer):
    revision_label = serializers.CharField(source="revision.__str__", read_only=True)

    class Meta:
        model = StockItem
        fields = [
            "id",
            "serial",
            "revision",
            "revision_label",
            "status",
            "location",
            "job",
            "machine",
            "program_sha256",
            "feedstock_lot",
            "operator",
            "reserved_for",
            "issued_to",
            "created_at",
        ]


class StopReportSerializer(serializers.Serializer):
    """One machine's E-STOP: ``delivered`` is true only when its runner wrote the stop to the wire."""

    machine = serializers.IntegerField(source="machine.pk")
    machine_name = serializers.CharField(source="machine.name")
    machine_state = serializers.CharField(source="machine.state")
    status = serializers.ChoiceField(choices=["delivered", "unconfirmed", "unreachable"])
    delivered = serializers.BooleanField()
    message = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    """Every refusal: ``{"error": {"code", "message", "field"}}`` (see mes.core.api)."""

    error = ErrorDetailSerializer()


class MachineCommandSerializer(serializers.ModelSerializer):
    """A command on a machine's control channel. For unlock and home: ``handled_at`` is when the machine's
    worker took it, ``finished_at``/``succeeded``/``outcome`` what the controller answered."""

    class Meta:
        model = MachineCommand
        fields = [
            "id",
            "machine",
            "job",
            "command",
            "issued_at",
            "handled_at",
            "finished_at",
            "succeeded",
            "outcome",
        ]


class MachineOverrideSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=sorted(OVERRIDE_CHANGES))
    change = serializers.CharField(
        max_length=10, help_text="feed/spindle: +10, -10, reset; rapid: 100, 50, 25"
    )


class MachineSerializer(serializers.ModelSerializer):
    queue = serializers.CharField(source="queue_name", read_only=True)

    class Meta:
        model = Machine
        fields = [
            "id",
            "name",
            "machine_type",
            "firmware",
            "port_url",
            "baud",
            "state",
            "state_reason",
            "x_min",
            "x_max",
            "y_min",
            "y_max",
            "z_min",
            "z_max",
            "loaded_lot",
            "queue",
            "controller_report",
            "controller_report_at",
        ]
        # What the controller said about itself is the runner's to write, never a client's.
        read_only_fields = ["controller_report", "controller_report_at"]


class FeedstockLotSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeedstockLot
        fields = ["id", "code", "material", "unit", "quantity_received", "quantity_on_hand"]


class WorkOrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkOrder
        fields = ["id", "part_request", "revision", "quantity", "status", "severity_rank"]


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = [
            "id",
            "work_order",
            "machine",
            "program",
            "quantity",
            "state",
            "severity_rank",
            "needed_by",
            "queued_at",
            "started_at",
            "ended_at",
            "operator",
            "feedstock_lot",
            "progress",
            "outcome",
            "run_record",
        ]
        read_only_fields = ["run_record"]


class JobStartSerializer(serializers.Serializer):
    lot = serializers.PrimaryKeyRelatedField(
        queryset=FeedstockLot.objects.all(), required=False, allow_null=True
    )


class InspectionRecordSerializer(serializers.Serializer):
    serial = serializers.SlugRelatedField(slug_field="serial", queryset=StockItem.objects.all())
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    measurements = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    defects = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    pipeline_version = serializers.CharField(required=False, allow_blank=True, default="")
