"""Serializers of the station API: record shapes, and upload shapes the views validate before a service."""

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from mes.inventory.models import StockItem
from vision import selectors
from vision.models import Calibration, Inspection, InspectionRequest, Station, Verdict


def _file_within_limit(upload) -> None:
    # Refused before anything is read into memory; the service checks the bytes again.
    if upload.size > settings.VISION_MAX_UPLOAD_BYTES:
        raise serializers.ValidationError(
            f"{upload.name} is {upload.size} bytes, "
            f"more than the limit of {settings.VISION_MAX_UPLOAD_BYTES}."
        )


class CalibrationSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    stale = serializers.SerializerMethodField()

    class Meta:
        model = Calibration
        fields = [
            "id",
            "station",
            "version",
            "rms_px",
            "plane_rms_px",
            "image_width",
            "image_height",
            "n_views",
            "board",
            "camera",
            "plane",
            "created_by",
            "created_at",
            "stale",
        ]

    def get_stale(self, obj) -> str | None:
        """Why this calibration may not be used any more, or null."""
        return selectors.calibration_staleness(obj)


class StationSerializer(serializers.ModelSerializer):
    calibration = serializers.SerializerMethodField()

    class Meta:
        model = Station
        fields = ["id", "name", "location", "board", "callback_url", "calibration"]

    def get_calibration(self, obj) -> dict | None:
        """The station's current calibration (summary), or null."""
        current = selectors.current_calibration(obj)
        if current is None:
            return None
        return {
            "version": current.version,
            "rms_px": current.rms_px,
            "created_at": current.created_at,
            "stale": selectors.calibration_staleness(current),
        }


class StationConfigureSerializer(serializers.Serializer):
    board = serializers.DictField(required=False)
    callback_url = serializers.URLField(required=False, allow_blank=True)


class CalibrationUploadSerializer(serializers.Serializer):
    images = serializers.ListField(child=serializers.FileField(), min_length=1, max_length=40)
    stage_index = serializers.IntegerField(required=False, default=-1)

    def validate_images(self, images):
        for upload in images:
            _file_within_limit(upload)
        return images


class InspectionUploadSerializer(serializers.Serializer):
    serial = serializers.SlugRelatedField(slug_field="serial", queryset=StockItem.objects.all())
    image = serializers.FileField()

    def validate_image(self, upload):
        _file_within_limit(upload)
        return upload


class InspectionDetailSerializer(serializers.ModelSerializer):
    serial = serializers.CharField(source="stock_item.serial", read_only=True)
    station = serializers.SlugRelatedField(slug_field="name", read_only=True)
    inspector = serializers.SlugRelatedField(slug_field="username", read_only=True)
    calibration_version = serializers.IntegerField(source="calibration.version", read_only=True, default=None)
    image_url = serializers.SerializerMethodField()
    annotated_url = serializers.SerializerMethodField()

    class Meta:
        model = Inspection
        fields = [
            "id",
            "serial",
            "station",
            "inspector",
            "verdict",
            "reason",
            "measurements",
            "deviations",
            "defects",
            "timings",
            "pipeline_version",
            "calibration_version",
            "image_url",
            "annotated_url",
            "overrides",
            "created_at",
        ]

    def get_image_url(self, obj) -> str | None:
        return reverse("vision:inspection-image", args=[obj.pk, "original"]) if obj.image else None

    def get_annotated_url(self, obj) -> str | None:
        return reverse("vision:inspection-image", args=[obj.pk, "annotated"]) if obj.annotated_image else None


class InspectionRequestSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="name", read_only=True)
    serial = serializers.CharField(source="stock_item.serial", read_only=True)
    inspection = InspectionDetailSerializer(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = InspectionRequest
        fields = [
            "id",
            "url",
            "station",
            "serial",
            "status",
            "error",
            "created_at",
            "finished_at",
            "inspection",
        ]

    def get_url(self, obj) -> str:
        return reverse("vision:request-detail", args=[obj.pk])


class OverrideSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=[Verdict.ACCEPTED, Verdict.REJECTED])
    reason = serializers.CharField(max_length=4000)
