"""The notes pages: /notes/, /notes/activity/, /notes/<id>/ and /notes/<id>/<action>/."""

from django.urls import path

from notes import views

app_name = "notes"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("activity/", views.activity, name="activity"),
    path("attempts/<int:attempt_id>/", views.attempt_status, name="attempt"),
    # str, not uuid: the view validates the id and answers a bad one clearly.
    path("<str:note_id>/", views.detail, name="detail"),
    path("<str:note_id>/<str:action>/", views.note_action, name="action"),
]
