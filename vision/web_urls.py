from django.urls import path

from vision import web_views

app_name = "inspection"

urlpatterns = [
    path("", web_views.queue, name="queue"),
    path("images/<int:pk>/<str:kind>/", web_views.image, name="image"),
    path("<str:serial>/", web_views.item, name="item"),
    path("<str:serial>/decide/", web_views.decide, name="decide"),
]
