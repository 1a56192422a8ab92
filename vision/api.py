"""Station API views: parse the upload, call one service, answer. No business rules here.

A station's token reaches only these endpoints (``IsPerson`` keeps it out of the rest of the API), and
here it sees only its own station: reads are scoped by :mod:`vision.selectors` (another station's records
are 404), writes for another station are refused by the services (403).
"""

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from mes.core.api import IsPerson
from mes.core.roles import user_roles
from vision import selectors, services
from vision import serializers as s
from vision.models import Station


class HasRole(permissions.BasePermission):
    """People and stations; an authenticated user with no role gets nothing."""

    message = "This account holds no shop role."

    def has_permission(self, request, view) -> bool:
        return bool(user_roles(request.user))


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _station_for_write(name: str) -> Station:
    # Any station: whether this user may act for it is the service's decision (403, not 404).
    return get_object_or_404(Station, name=name)


class StationList(generics.ListAPIView):
    """The stations this user may see (a station: itself)."""

    serializer_class = s.StationSerializer
    permission_classes = [HasRole]

    def get_queryset(self):
        return selectors.stations_visible_to(self.request.user)


class StationDetail(generics.RetrieveAPIView):
    serializer_class = s.StationSerializer
    permission_classes = [HasRole]
    lookup_field = "name"

    def get_queryset(self):
        return selectors.stations_visible_to(self.request.user)

    @extend_schema(request=s.StationConfigureSerializer, responses=s.StationSerializer)
    def patch(self, request, name=None):
        """Configure the board and callback URL (supervisors)."""
        station = services.station_configure(
            request.user, station=_station_for_write(name), **_valid(s.StationConfigureSerializer, request)
        )
        return Response(s.StationSerializer(station).data)


class StationCalibrations(generics.ListAPIView):
    """GET: the station's calibration versions, newest first. POST (multipart ``images`` repeated, optional
    ``stage_index``, default the last image): calibrate and store a new version."""

    serializer_class = s.CalibrationSerializer
    permission_classes = [HasRole]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.calibrations_visible_to(self.request.user).filter(station__name=self.kwargs["name"])

    @extend_schema(request=s.CalibrationUploadSerializer, responses={201: s.CalibrationSerializer})
    def post(self, request, name=None):
        data = _valid(s.CalibrationUploadSerializer, request)
        calibration = services.station_calibrate(
            request.user,
            station=_station_for_write(name),
            images=[upload.read() for upload in data["images"]],
            stage_index=data["stage_index"],
        )
        return Response(s.CalibrationSerializer(calibration).data, status=status.HTTP_201_CREATED)


class StationInspections(generics.ListAPIView):
    """GET: the station's inspection requests, newest first. POST (multipart ``serial``, ``image``): queue
    the inspection of that part; answers 202 with the request to poll."""

    serializer_class = s.InspectionRequestSerializer
    permission_classes = [HasRole]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.requests_visible_to(self.request.user).filter(station__name=self.kwargs["name"])

    @extend_schema(request=s.InspectionUploadSerializer, responses={202: s.InspectionRequestSerializer})
    def post(self, request, name=None):
        data = _valid(s.InspectionUploadSerializer, request)
        inspection_request = services.inspection_request(
            request.user,
            station=_station_for_write(name),
            stock_item=data["serial"],
            image_bytes=data["image"].read(),
        )
        body = s.InspectionRequestSerializer(inspection_request).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class RequestDetail(generics.RetrieveAPIView):
    """One inspection request: its status and, when done, the inspection."""

    serializer_class = s.InspectionRequestSerializer
    permission_classes = [HasRole]

    def get_queryset(self):
        return selectors.requests_visible_to(self.request.user)


class InspectionDetail(generics.RetrieveAPIView):
    serializer_class = s.InspectionDetailSerializer
    permission_classes = [HasRole]

    def get_queryset(self):
        return selectors.inspections_visible_to(self.request.user)


class InspectionImage(APIView):
    """The photo (``original``) or the annotated picture of an inspection, as PNG."""

    permission_classes = [HasRole]

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request, pk: int, kind: str):
        inspection = get_object_or_404(selectors.inspections_visible_to(request.user), pk=pk)
        field = inspection.image if kind == "original" else inspection.annotated_image
        if not field:
            raise Http404
        return FileResponse(field.open("rb"), content_type="image/png")


class InspectionOverride(APIView):
    """An inspector overturns an inspection's verdict with a reason (audited)."""

    permission_classes = [IsPerson]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(request=s.OverrideSerializer, responses={201: s.InspectionDetailSerializer})
    def post(self, request, pk: int):
        data = _valid(s.OverrideSerializer, request)
        inspection = get_object_or_404(selectors.inspections_visible_to(request.user), pk=pk)
        new = services.inspection_override(request.user, inspection=inspection, **data)
        return Response(s.InspectionDetailSerializer(new).data, status=status.HTTP_201_CREATED)
