from django.urls import path

from mes.production import terminal_views

app_name = "terminal"

urlpatterns = [
    path("", terminal_views.home, name="home"),
    path("board/", terminal_views.board, name="board"),
    path("machines/<int:pk>/", terminal_views.machine_detail, name="machine"),
    path("machines/clear-errors/", terminal_views.machines_clear_error, name="machines-clear-error"),
    path("machines/<int:pk>/clear-error/", terminal_views.machine_clear_error, name="machine-clear-error"),
    path("machines/<int:pk>/load-lot/", terminal_views.machine_lot_load, name="machine-load-lot"),
    path("machines/<int:pk>/unlock/", terminal_views.machine_unlock, name="machine-unlock"),
    path("machines/<int:pk>/home/", terminal_views.machine_home, name="machine-home"),
    path("machines/<int:pk>/override/", terminal_views.machine_override, name="machine-override"),
    path("machines/<int:pk>/controller/", terminal_views.machine_controller, name="machine-controller"),
    path("jobs/<int:pk>/start/", terminal_views.job_start, name="job-start"),
    path("jobs/<int:pk>/pause/", terminal_views.job_pause, name="job-pause"),
    path("jobs/<int:pk>/resume/", terminal_views.job_resume, name="job-resume"),
    path("jobs/<int:pk>/cancel/", terminal_views.job_cancel, name="job-cancel"),
    path("jobs/<int:pk>/finish/", terminal_views.job_finish, name="job-finish"),
]
