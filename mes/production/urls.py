from django.urls import path

from mes.production import views

app_name = "production"

urlpatterns = [
    path("estop/", views.estop_all, name="estop-all"),
    path("machines/<int:pk>/estop/", views.estop_machine, name="estop-machine"),
]
