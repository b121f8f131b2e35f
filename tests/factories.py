"""Small helpers that make test data (`make_*`)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "correct-horse-battery"


def make_user(username: str = "pat", *, groups: tuple[str, ...] = (), **fields):
    """Create a local user with a known password and the given group names."""
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", **fields
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user
