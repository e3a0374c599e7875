from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from spendflo.users.backends import REFUSAL_ATTRIBUTE
from spendflo.users.models import User

# The username mirrors the email, so an email is at most as long as a username may be.
EMAIL_MAX_LENGTH: int = User._meta.get_field("username").max_length or 0
NAME_MAX_LENGTH: int = User._meta.get_field("first_name").max_length or 0


class UserCreateForm(forms.Form):
    email = forms.EmailField(max_length=EMAIL_MAX_LENGTH)
    first_name = forms.CharField(max_length=NAME_MAX_LENGTH, required=False)
    last_name = forms.CharField(max_length=NAME_MAX_LENGTH, required=False)
    # Least privilege unless the admin chooses otherwise.
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.REQUESTER)


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=User.Role.choices)


class SignInForm(AuthenticationForm):
    """Django's sign-in form; during a lockout it says so instead of "wrong password"."""

    def get_invalid_login_error(self) -> ValidationError:
        refusal = getattr(self.request, REFUSAL_ATTRIBUTE, None)
        if refusal:
            return ValidationError(refusal, code="locked")
        return super().get_invalid_login_error()
