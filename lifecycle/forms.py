from django import forms

from lifecycle.models import TimelineKind


class LogActivityForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (TimelineKind.NOTE, "Note"),
            (TimelineKind.CALL, "Call"),
            (TimelineKind.MEETING, "Meeting"),
        ],
        initial=TimelineKind.NOTE,
    )
    title = forms.CharField(max_length=300, label="Summary")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Details"
    )
