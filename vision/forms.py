"""Forms of the inspectors' pages."""

from django import forms

DECISIONS = [
    ("accept", "Accept"),
    ("reject", "Reject"),
    ("rework", "Rework"),
    ("scrap", "Scrap"),
]


class DecisionForm(forms.Form):
    """An inspector's decision on a queued part; every decision needs a reason."""

    action = forms.ChoiceField(
        choices=DECISIONS,
        error_messages={"required": "Choose a decision.", "invalid_choice": "Choose a decision."},
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give the reason for your decision."},
    )
