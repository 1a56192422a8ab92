"""Forms of the stock pages: filters of the counts table and the serial search."""

from django import forms

from mes.catalog.models import PartRevision
from mes.inventory.models import Location, StockStatus


class RevisionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.part.number} {obj.part.name}, revision {obj.revision}"


class StockFilterForm(forms.Form):
    """Narrow the stock table to one revision, status and/or location (all optional)."""

    revision = RevisionChoiceField(
        queryset=PartRevision.objects.select_related("part").order_by("part__number", "revision"),
        required=False,
        empty_label="Every part",
    )
    status = forms.ChoiceField(choices=[("", "Every status"), *StockStatus.choices], required=False)
    location = forms.ModelChoiceField(queryset=Location.objects.all(), required=False, empty_label="Anywhere")

    def filters(self) -> dict:
        """Keyword arguments for :func:`mes.inventory.selectors.stock_table` (none when invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "revision_id": data["revision"].pk if data["revision"] else None,
            "status": data["status"] or None,
            "location_id": data["location"].pk if data["location"] else None,
        }


class SerialSearchForm(forms.Form):
    q = forms.CharField(
        max_length=40,
        strip=True,
        label="Serial",
        error_messages={"required": "Type a serial number or its beginning."},
    )
