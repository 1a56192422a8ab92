from django.urls import path

from mes.dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("", views.home, name="home"),
    path("control/", views.control, name="control"),
]
