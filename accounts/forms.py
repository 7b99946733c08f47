import zoneinfo

from django import forms
from django.db.models import QuerySet

from accounts.models import Breeder, User
from accounts.roles import Role


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CSM)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class SecurityForm(forms.Form):
    require_mfa = forms.BooleanField(
        required=False, label="Require two-factor authentication for every member"
    )


class BreederForm(forms.ModelForm):
    species = forms.CharField(
        required=False, help_text="Comma-separated, for example: Ball python, Crested gecko"
    )
    time_zone = forms.ChoiceField(required=False)
    # Longer than the stored two letters, so a country name reaches clean_country and
    # gets an error that explains the expected code.
    country = forms.CharField(required=False, max_length=100)

    class Meta:
        model = Breeder
        fields = [
            "name",
            "business_name",
            "email",
            "time_zone",
            "country",
            "species",
            "animal_count",
            "operation",
            "experience",
            "plan",
            "assigned_csm",
        ]

    def __init__(
        self,
        *args: object,
        staff: QuerySet[User] | None = None,
        can_assign: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        time_zone_field = self.fields["time_zone"]
        assert isinstance(time_zone_field, forms.ChoiceField)
        time_zone_field.choices = [("", "Workspace default")] + [
            (name, name) for name in sorted(zoneinfo.available_timezones())
        ]
        if self.instance and self.instance.pk:
            self.initial["species"] = ", ".join(self.instance.species)
        if can_assign and staff is not None:
            self.fields["assigned_csm"].queryset = staff  # type: ignore[attr-defined]
        else:
            del self.fields["assigned_csm"]

    def clean_species(self) -> list[str]:
        raw = self.cleaned_data.get("species") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    def clean_country(self) -> str:
        country = (self.cleaned_data.get("country") or "").strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise forms.ValidationError(
                "Use the two-letter ISO 3166-1 country code, for example DE or US."
            )
        return country
