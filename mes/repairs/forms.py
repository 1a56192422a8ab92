"""Forms of the engineers' pages. They parse input only; the repair services decide what is allowed."""

from django import forms

from mes.repairs import selectors
from mes.repairs.models import Module, Sector, Severity


class TicketForm(forms.Form):
    """File a damage ticket. Whether the module lies in the sector is the service's rule (error on module)."""

    sector = forms.ModelChoiceField(
        queryset=Sector.objects.all(),
        empty_label="Choose the sector",
        error_messages={"required": "Choose the sector.", "invalid_choice": "Choose a sector from the list."},
    )
    module = forms.ModelChoiceField(
        queryset=Module.objects.select_related("sector"),
        empty_label="Choose the module",
        error_messages={"required": "Choose the module.", "invalid_choice": "Choose a module from the list."},
    )
    severity = forms.ChoiceField(
        choices=Severity.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how severe the damage is.",
            "invalid_choice": "Choose a severity.",
        },
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Describe the damage."},
    )

    def module_options(self):
        """Modules to offer: those of the chosen sector (none until a sector is chosen)."""
        sector = self.data.get("sector") if self.is_bound else self.initial.get("sector")
        return selectors.modules_in_sector(sector)

    def _chosen(self, name: str) -> str:
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        return "" if value is None else str(value)

    @property
    def chosen_sector(self) -> str:
        """The submitted sector as text (to re-select it in the hand-written select)."""
        return self._chosen("sector")

    @property
    def chosen_module(self) -> str:
        return self._chosen("module")

    @property
    def chosen_severity(self) -> str:
        return self._chosen("severity")


class RevisionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.part.number} {obj.part.name}, revision {obj.revision}"


class PartRequestForm(forms.Form):
    """Request parts of a released revision for a ticket."""

    revision = RevisionChoiceField(
        queryset=selectors.revisions_requestable(),
        empty_label="Choose the part",
        error_messages={
            "required": "Choose the part.",
            "invalid_choice": "Choose a released part from the list.",
        },
    )
    quantity = forms.IntegerField(
        min_value=1,
        max_value=999,
        initial=1,
        error_messages={
            "required": "Say how many.",
            "invalid": "Quantity must be a whole number.",
            "min_value": "Quantity must be at least 1.",
            "max_value": "At most 999 per request.",
        },
    )
    needed_by = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Give the date and time, or leave it empty."},
    )


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say how the damage was repaired."},
    )
