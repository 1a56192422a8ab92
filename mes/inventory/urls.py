from django.urls import path

from mes.inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.stock, name="stock"),
    path("search/", views.search, name="search"),
    path("<str:serial>/", views.serial, name="serial"),
]
