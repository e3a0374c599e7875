from __future__ import annotations

from django import forms

from spendflo.users.models import User


class UserCreateForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    # Least privilege unless the admin chooses otherwise.
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.REQUESTER)


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=User.Role.choices)
