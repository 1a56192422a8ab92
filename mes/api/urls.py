from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from mes.api import views

router = DefaultRouter()
router.register("parts", views.PartViewSet)
router.register("revisions", views.PartRevisionViewSet)
router.register("programs", views.ProgramViewSet)
router.register("tickets", views.TicketViewSet)
router.register("part-requests", views.PartRequestViewSet)
router.register("stock", views.StockItemViewSet)
router.register("machines", views.MachineViewSet)
router.register("feedstock-lots", views.FeedstockLotViewSet)
router.register("work-orders", views.WorkOrderViewSet)
router.register("jobs", views.JobViewSet)
router.register("inspections", views.InspectionViewSet)

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
