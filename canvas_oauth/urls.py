from django.urls import path

from canvas_oauth import views

app_name = "canvas_oauth"

urlpatterns = [
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
    path("link-failed/", views.link_failed, name="link-failed"),
    path("disconnect/", views.disconnect, name="disconnect"),
]
