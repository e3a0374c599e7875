from __future__ import annotations

from django import forms

from spendflo.users.models import User


class UserCreateForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=User.Role.choices)


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=User.Role.choices)
