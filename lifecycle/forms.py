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


class TaskForm(forms.Form):
    # The breeder page shows this form next to the activity form, whose field is also
    # called title; the prefix keeps their HTML ids apart.
    prefix = "task"

    title = forms.CharField(max_length=300, label="Task")
    due_on = forms.DateField(label="Due", widget=forms.DateInput(attrs={"type": "date"}))


class CompleteTaskForm(forms.Form):
    outcome = forms.CharField(max_length=2000, label="Outcome")
