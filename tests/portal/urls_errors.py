"""The portal's URLs plus views that fail on purpose, for the error-page tests."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


@login_not_required
def boom(request):
    raise RuntimeError("SECRET_KEY=do-not-show-this in a traceback")


@login_not_required
def bad(request):
    raise BadRequest("bad input")


@login_not_required
def denied(request):
    raise PermissionDenied


urlpatterns = [
    path("test-errors/boom/", boom),
    path("test-errors/bad/", bad),
    path("test-errors/denied/", denied),
    *portal_urlpatterns,
]
