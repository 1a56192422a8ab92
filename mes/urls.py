from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from mes.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # People's pages, one area per role (mes.core.roles.PAGES says who opens which).
    path("", include("mes.production.urls")),
    path("terminal/", include("mes.production.terminal_urls")),
    path("tickets/", include("mes.repairs.urls")),
    path("inspection/", include("vision.web_urls")),
    path("stock/", include("mes.inventory.urls")),
    path("dashboards/", include("mes.dashboards.urls")),
    # Machines' and stations' doors.
    path("admin/", admin.site.urls),
    path("api/", include("mes.api.urls")),
    path("api/v1/vision/", include("vision.urls")),
]
