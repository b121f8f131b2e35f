"""Signal receivers: a deactivated user's Canvas connection does not outlive the account."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from canvas_oauth.exceptions import CanvasOAuthError
from canvas_oauth.models import CanvasConnection
from canvas_oauth.operations import connection_disconnect

logger = logging.getLogger(__name__)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="canvas_oauth.user_was_active")
def user_was_active(sender, instance, update_fields=None, **kwargs) -> None:
    """Remember whether a saved user was active, when the save may change that."""
    if instance.pk is None or (update_fields is not None and "is_active" not in update_fields):
        return  # e.g. the last_login update at every sign-in: no extra query
    instance._canvas_was_active = sender._default_manager.filter(
        pk=instance.pk, is_active=True
    ).exists()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="canvas_oauth.user_deactivated")
def user_deactivated(sender, instance, created=False, **kwargs) -> None:
    """Disconnect (and revoke at Canvas) the connection of a user who was just deactivated.

    After the commit (the revocation calls Canvas, and disconnecting runs in
    its own transaction), from wherever the deactivation came: the admin's
    form, its action, a script.
    """
    if created or instance.is_active or not getattr(instance, "_canvas_was_active", False):
        return
    instance._canvas_was_active = False

    def disconnect() -> None:
        connected = (
            CanvasConnection.objects.filter(user_id=instance.pk)
            .exclude(status=CanvasConnection.Status.DISCONNECTED)
            .exists()
        )
        if not connected:
            return
        try:
            connection_disconnect(user=instance, actor=None, via_admin=False)
        except CanvasOAuthError as exc:
            # A key fault: the connection stays and the refresh cron skips inactive users.
            logger.error("Could not disconnect deactivated user id %s: %s", instance.pk, exc.code)
        else:
            logger.info("Canvas connection of deactivated user id %s ended", instance.pk)

    transaction.on_commit(disconnect)
