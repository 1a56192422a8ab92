from django.urls import path

from mes.repairs import views

app_name = "repairs"

urlpatterns = [
    path("", views.tickets, name="tickets"),
    path("new/", views.ticket_new, name="ticket-new"),
    path("modules/", views.modules, name="modules"),
    path("<int:pk>/", views.ticket, name="ticket"),
    path("<int:pk>/live/", views.ticket_live, name="ticket-live"),
    path("<int:pk>/requests/", views.request_create, name="request-create"),
    path("<int:pk>/requests/<int:request_pk>/issue/", views.request_issue, name="request-issue"),
    path("<int:pk>/requests/<int:request_pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("<int:pk>/resolve/", views.ticket_resolve, name="ticket-resolve"),
    path("<int:pk>/close/", views.ticket_close, name="ticket-close"),
]
