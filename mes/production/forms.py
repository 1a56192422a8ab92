"""Forms of the shop terminal: they parse and check what was ticked; the services decide the rest."""

from django import forms

from mes.catalog.models import MachineType
from mes.production import selectors
from mes.production.models import FeedstockLot, Job, Machine


class LotChoiceField(forms.ModelChoiceField):
    """A lot shown with what it holds, so the machinist compares it with the job's need at a glance."""

    def label_from_instance(self, lot: FeedstockLot) -> str:
        return f"{lot.code} · {lot.material} · {lot.quantity_on_hand.normalize():f} {lot.unit} on hand"


# The pre-flight box a machine type asks for: (field name, label, plain error when left unticked).
PREFLIGHT_CHECKS = {
    MachineType.CNC_MILL: (
        "stock_zeroed",
        "Stock clamped and zeroed (work offset set on the stock)",
        "Clamp the stock and zero the work offset, then tick this box.",
    ),
    MachineType.FDM_PRINTER: (
        "bed_clear",
        "Bed clear (no part, no debris, build surface in place)",
        "Clear the bed, then tick this box.",
    ),
}
DEFAULT_CHECK = PREFLIGHT_CHECKS[MachineType.FDM_PRINTER]


def preflight_check_for(machine: Machine) -> tuple[str, str, str]:
    """The checklist box for the machine's type (machines of another type get the bed/work-area box)."""
    return PREFLIGHT_CHECKS.get(machine.machine_type, DEFAULT_CHECK)


class PreflightForm(forms.Form):
    """What the machinist confirms before a job starts: the lot to draw from and the machine made ready.

    The lot defaults to the machine's loaded lot; whether it holds enough of the right material is the
    start service's interlock, so its refusal lands on this field.
    """

    lot = LotChoiceField(
        queryset=FeedstockLot.objects.none(),
        label="Feedstock lot loaded",
        empty_label="Choose the lot on the machine",
        error_messages={"required": "Choose the feedstock lot loaded on the machine."},
    )

    def __init__(self, *args, job: Job, **kwargs):
        self.job = job
        machine = job.machine
        kwargs.setdefault("initial", {}).setdefault("lot", machine.loaded_lot_id)
        super().__init__(*args, **kwargs)
        lots = selectors.feedstock_lots_for_program(job.program, also=machine.loaded_lot)
        self.fields["lot"].queryset = lots
        name, label, missing = preflight_check_for(machine)
        self.check_name = name
        self.fields[name] = forms.BooleanField(label=label, error_messages={"required": missing})

    @property
    def check_field(self):
        return self[self.check_name]


class LotLoadForm(forms.Form):
    lot = LotChoiceField(
        queryset=FeedstockLot.objects.none(),
        label="Lot now on the machine",
        empty_label="Choose a lot",
        error_messages={"required": "Choose the lot you loaded."},
    )

    def __init__(self, *args, machine: Machine, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lot"].queryset = selectors.feedstock_lots_for_machine(machine)


class ClearErrorForm(forms.Form):
    # Not required here: the service refuses an empty note in its own words (the single source of the rule).
    note = forms.CharField(
        label="What did you check or fix?",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ClearMachinesForm(forms.Form):
    """One note for several machines in error; each must be ticked by name as checked."""

    machines = forms.ModelMultipleChoiceField(
        queryset=Machine.objects.none(),
        required=False,  # the service says "tick each machine you checked" in its own words
        widget=forms.CheckboxSelectMultiple,
        label="I checked these machines and they are safe",
    )
    note = forms.CharField(
        label="What did you check or fix?", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, in_error, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["machines"].queryset = in_error
