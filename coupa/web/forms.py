from __future__ import annotations

from typing import Any

from django import forms


class ConnectForm(forms.Form):
    domain = forms.CharField(
        label="Coupa domain",
        max_length=255,
        help_text="Your instance's address, for example acme.coupahost.com.",
        widget=forms.TextInput(attrs={"placeholder": "acme.coupahost.com", "autocomplete": "off"}),
    )
    client_id = forms.CharField(label="Client ID", max_length=255)
    client_secret = forms.CharField(
        label="Client secret",
        max_length=512,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    rate_limit = forms.FloatField(
        label="Requests per second",
        min_value=1,
        max_value=25,
        initial=20,
        required=False,
        help_text="Coupa allows 25 per second for all integrations of an instance together.",
    )


class EditConnectionForm(ConnectForm):
    """Like connecting, but a blank secret keeps the stored one (it is never shown back)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        secret = self.fields["client_secret"]
        secret.required = False
        secret.help_text = "Leave blank to keep the stored secret."
        secret.widget.attrs["placeholder"] = "•••••••• (stored)"
