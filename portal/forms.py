"""Sign-in forms that explain throttling without revealing whether a username exists."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from canvas_oauth.zones import clinic_zone
from portal.models import UserProfile
from portal.services import SignInRefusal
from portal.timezones import zone_choices


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def refusal_message(refusal: SignInRefusal) -> str:
    """Return what to tell a person whose sign-in is throttled."""
    if refusal.reason == "locked":
        return (
            "Too many failed sign-in attempts. Sign-in is paused for "
            f"{_duration(refusal.retry_after)}; try again later or ask your administrator."
        )
    return (
        "That username and password did not match. Too many failed attempts: "
        f"wait {_duration(refusal.retry_after)} before trying again."
    )


class ThrottledLoginFormMixin:
    """Replace the invalid-login error with a throttling message when one applies."""

    def get_invalid_login_error(self) -> forms.ValidationError:
        refusal = getattr(self.request, "signin_refusal", None)
        if refusal is not None:
            return forms.ValidationError(refusal_message(refusal), code="throttled")
        return super().get_invalid_login_error()


class SignInForm(ThrottledLoginFormMixin, AuthenticationForm):
    """The portal's sign-in form."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password did not match. Check them and try again.",
    }


class AdminSignInForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    """The admin's sign-in form."""


class ProfileForm(forms.ModelForm):
    """A user's own preferences: the time zone their pages show times in."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Times, \u201ctoday\u201d and ages follow this zone. "
        "Pick one only if you work from another one than the clinic.",
    )

    class Meta:
        model = UserProfile
        fields = ["time_zone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [
            ("", f"The clinic's time ({clinic_zone().key})"),
            *[(name, name.replace("_", " ")) for name in zone_choices()],
        ]
