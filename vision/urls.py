"""Station API, mounted at ``/api/v1/vision/``."""

from django.urls import path

from vision import api

app_name = "vision"

urlpatterns = [
    path("stations/", api.StationList.as_view(), name="station-list"),
    path("stations/<str:name>/", api.StationDetail.as_view(), name="station-detail"),
    path("stations/<str:name>/calibrations/", api.StationCalibrations.as_view(), name="station-calibrations"),
    path("stations/<str:name>/inspections/", api.StationInspections.as_view(), name="station-inspections"),
    path("requests/<int:pk>/", api.RequestDetail.as_view(), name="request-detail"),
    path("inspections/<int:pk>/", api.InspectionDetail.as_view(), name="inspection-detail"),
    path(
        "inspections/<int:pk>/<str:kind>.png",
        api.InspectionImage.as_view(),
        name="inspection-image",
    ),
    path("inspections/<int:pk>/override/", api.InspectionOverride.as_view(), name="inspection-override"),
]
