"""API views: parse the input, call one service, answer with the record. No business rules here."""

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from machines import selectors as machine_selectors
from mes.api import serializers as s
from mes.catalog.models import Part, PartRevision, Program
from mes.core.api import IsInspectorOrStation, IsPerson
from mes.inventory.models import HELD_FOR_REQUEST, StockItem
from mes.production import services as production
from mes.production.models import FeedstockLot, Job, Machine, WorkOrder
from mes.repairs import services as repairs
from mes.repairs.models import DamageTicket, PartRequest
from vision import services as inspections
from vision.models import Inspection
from vision.serializers import InspectionDetailSerializer


class ReadOnly(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsPerson]


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PartViewSet(ReadOnly):
    queryset = Part.objects.all()
    serializer_class = s.PartSerializer
    filterset_fields = ["kind", "number"]


class PartRevisionViewSet(ReadOnly):
    queryset = PartRevision.objects.select_related("part")
    serializer_class = s.PartRevisionSerializer
    filterset_fields = ["part", "released"]


class ProgramViewSet(ReadOnly):
    queryset = Program.objects.defer("gcode")
    serializer_class = s.ProgramSerializer
    filterset_fields = ["revision", "machine_type", "firmware", "released"]


class TicketViewSet(ReadOnly):
    queryset = DamageTicket.objects.select_related("sector", "module", "reporter")
    serializer_class = s.TicketSerializer
    filterset_fields = ["status", "severity", "sector__name"]
    ordering_fields = ["created_at", "severity"]

    @extend_schema(request=s.TicketFileSerializer, responses={201: s.TicketSerializer})
    def create(self, request):
        ticket = repairs.ticket_file(request.user, **_valid(s.TicketFileSerializer, request))
        return Response(s.TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ResolutionSerializer, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = _valid(s.ResolutionSerializer, request)
        ticket = repairs.ticket_resolve(request.user, ticket=self.get_object(), **data)
        return Response(s.TicketSerializer(ticket).data)

    @extend_schema(request=None, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        ticket = repairs.ticket_close(request.user, ticket=self.get_object())
        return Response(s.TicketSerializer(ticket).data)


class PartRequestViewSet(ReadOnly):
    queryset = PartRequest.objects.select_related("revision__part").annotate(
        units_held=Count("stock_items", filter=Q(stock_items__status__in=HELD_FOR_REQUEST))
    )
    serializer_class = s.PartRequestSerializer
    filterset_fields = ["ticket", "status", "revision"]

    @extend_schema(request=s.PartRequestCreateSerializer, responses={201: s.PartRequestSerializer})
    def create(self, request):
        part_request = repairs.part_request_create(
            request.user, **_valid(s.PartRequestCreateSerializer, request)
        )
        data = s.PartRequestSerializer(self.get_queryset().get(pk=part_request.pk)).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.PartRequestSerializer)
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        repairs.part_request_issue(request.user, request=self.get_object())
        return Response(s.PartRequestSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.PartRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = _valid(s.ReasonSerializer, request)
        repairs.part_request_cancel(request.user, request=self.get_object(), **data)
        return Response(s.PartRequestSerializer(self.get_queryset().get(pk=pk)).data)


class StockItemViewSet(ReadOnly):
    queryset = StockItem.objects.select_related("revision__part")
    serializer_class = s.StockItemSerializer
    lookup_field = "serial"
    filterset_fields = ["status", "revision", "reserved_for", "issued_to", "job"]


class MachineViewSet(ReadOnly):
    queryset = Machine.objects.all()
    serializer_class = s.MachineSerializer
    filterset_fields = ["machine_type", "firmware", "state"]

    @extend_schema(request=None, responses={200: s.StopReportSerializer, 503: s.StopReportSerializer})
    @action(detail=True, methods=["post"])
    def estop(self, request, pk=None):
        """Emergency stop: reaches the machine's wire within milliseconds, then locks it in error.

        200 when the runner confirmed the stop is on the wire; 503 when it could not be delivered (no
        controller connected) or was not confirmed in time: then use the machine's own emergency stop.
        """
        report = production.machine_emergency_stop(request.user, machine=self.get_object())
        return Response(s.StopReportSerializer(report).data, status=200 if report.delivered else 503)

    @extend_schema(
        request=None,
        responses={200: s.StopReportSerializer(many=True), 503: s.StopReportSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="estop")
    def estop_all(self, request):
        """Emergency stop of every machine that could move; 200 only if every stop was delivered."""
        reports = production.machines_emergency_stop_all(request.user)
        delivered = all(report.delivered for report in reports)
        return Response(s.StopReportSerializer(reports, many=True).data, status=200 if delivered else 503)

    @extend_schema(
        request=None,
        responses={
            202: s.MachineCommandSerializer,
            400: s.ErrorSerializer,
            403: s.ErrorSerializer,
            404: s.ErrorSerializer,
            409: s.ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        """Clear the controller's alarm lock without homing ($X): its position may be wrong afterwards.

        202: the command is queued for the machine's worker; read its outcome at
        ``/machines/{id}/commands/`` (``finished_at``, ``succeeded``, ``outcome``). 409 while a job runs or
        is paused, when the machine is not idle or in error, when it is unreachable (no serial port, no live
        worker) or busy with another unlock or homing; 400 when its firmware has no such command; 403 for
        roles other than machinist and supervisor.
        """
        command = production.machine_unlock(request.user, machine=self.get_object())
        return Response(s.MachineCommandSerializer(command).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            202: s.MachineCommandSerializer,
            400: s.ErrorSerializer,
            403: s.ErrorSerializer,
            404: s.ErrorSerializer,
            409: s.ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def home(self, request, pk=None):
        """Run the controller's homing cycle ($H): the spindle moves to the limit switches.

        Answers as ``unlock``. A successful homing also clears the machine's error (it becomes idle).
        """
        command = production.machine_home(request.user, machine=self.get_object())
        return Response(s.MachineCommandSerializer(command).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=s.MachineOverrideSerializer,
        responses={
            202: s.MachineCommandSerializer,
            400: s.ErrorSerializer,
            403: s.ErrorSerializer,
            404: s.ErrorSerializer,
            409: s.ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        """Change the feed, spindle or rapid override of the job running (or paused) on the machine.

        202: on the control channel for the runner, which writes the controller's real-time bytes; the
        values the controller then reports appear in the machine's telemetry. 400 for a kind or change not
        offered, or a firmware without that override; 409 when no job runs or the machine has no serial
        port; 403 for roles other than machinist and supervisor.
        """
        data = _valid(s.MachineOverrideSerializer, request)
        command = production.machine_override(request.user, machine=self.get_object(), **data)
        return Response(s.MachineCommandSerializer(command).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: s.MachineCommandSerializer(many=True), 404: s.ErrorSerializer})
    @action(detail=True, methods=["get"])
    def commands(self, request, pk=None):
        """The machine's latest 20 control commands, newest first, with their outcomes."""
        latest = machine_selectors.machine_commands_latest(self.get_object().pk, limit=20)
        return Response(s.MachineCommandSerializer(latest, many=True).data)

    @extend_schema(request=s.NoteSerializer, responses=s.MachineSerializer)
    @action(detail=True, methods=["post"], url_path="clear-error")
    def clear_error(self, request, pk=None):
        data = _valid(s.NoteSerializer, request)
        machine = production.machine_clear_error(request.user, machine=self.get_object(), **data)
        return Response(s.MachineSerializer(machine).data)


class FeedstockLotViewSet(ReadOnly):
    queryset = FeedstockLot.objects.all()
    serializer_class = s.FeedstockLotSerializer
    filterset_fields = ["material"]


class WorkOrderViewSet(ReadOnly):
    queryset = WorkOrder.objects.all()
    serializer_class = s.WorkOrderSerializer
    filterset_fields = ["status", "part_request", "revision"]


class JobViewSet(ReadOnly):
    queryset = Job.objects.select_related("machine", "program")
    serializer_class = s.JobSerializer
    filterset_fields = ["machine", "state", "work_order"]
    ordering_fields = ["queued_at", "severity_rank"]

    def _answer(self, job):
        return Response(s.JobSerializer(Job.objects.get(pk=job.pk)).data)

    @extend_schema(request=s.JobStartSerializer, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        data = _valid(s.JobStartSerializer, request)
        return self._answer(production.job_start(request.user, job=self.get_object(), **data))

    @extend_schema(request=None, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._answer(production.job_pause(request.user, job=self.get_object()))

    @extend_schema(request=None, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._answer(production.job_resume(request.user, job=self.get_object()))

    @extend_schema(request=s.ReasonSerializer, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = _valid(s.ReasonSerializer, request)
        return self._answer(production.job_cancel(request.user, job=self.get_object(), **data))

    @extend_schema(request=None, responses=s.StockItemSerializer(many=True))
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        items = production.job_finish(request.user, job=self.get_object())
        return Response(s.StockItemSerializer(items, many=True).data)

    @extend_schema(request=s.ReasonSerializer, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def fail(self, request, pk=None):
        data = _valid(s.ReasonSerializer, request)
        return self._answer(production.job_fail(request.user, job=self.get_object(), **data))


class InspectionViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Stations and inspectors record verdicts; people read them under stock items."""

    queryset = Inspection.objects.select_related("stock_item")
    serializer_class = InspectionDetailSerializer
    permission_classes = [IsInspectorOrStation]

    @extend_schema(request=s.InspectionRecordSerializer, responses={201: InspectionDetailSerializer})
    def create(self, request):
        data = _valid(s.InspectionRecordSerializer, request)
        inspection = inspections.inspection_record(request.user, stock_item=data.pop("serial"), **data)
        # One shape for an inspection everywhere: the station API's (images, deviations, calibration).
        data = InspectionDetailSerializer(inspection, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)
