"""The notes pages: the worklist, My activity, runs, one note and its actions."""

from django.urls import path

from notes import content_views, views

app_name = "notes"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("activity/", views.activity, name="activity"),
    path("attempts/<int:attempt_id>/", views.attempt_status, name="attempt"),
    path("bulk/", views.bulk, name="bulk"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:run_id>/", views.run, name="run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run_progress"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    # str, not uuid: the view validates the id and answers a bad one clearly.
    path("<str:note_id>/", views.detail, name="detail"),
    path("<str:note_id>/content/", content_views.note_content, name="content"),
    path("<str:note_id>/<str:action>/", views.note_action, name="action"),
]
