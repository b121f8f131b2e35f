"""Input validation for the notes pages."""

from __future__ import annotations

from django import forms

from integrations.canvas.exceptions import InvalidNoteId
from integrations.canvas.plugin import note_id_parse
from notes.services import DEFAULT_TAB, TABS


class WorklistForm(forms.Form):
    """The worklist's query string: tab, patient search and the page cursor."""

    tab = forms.ChoiceField(choices=[(key, tab.label) for key, tab in TABS.items()], required=False)
    patient = forms.CharField(max_length=100, required=False, strip=True)
    cursor = forms.CharField(max_length=500, required=False)

    def clean_tab(self) -> str:
        return self.cleaned_data.get("tab") or DEFAULT_TAB


class OpenNoteForm(forms.Form):
    """The "Open by ID" box: a pasted note UUID."""

    id = forms.CharField(label="Note ID", max_length=200, strip=True)

    def clean_id(self) -> str:
        try:
            return str(note_id_parse(value=self.cleaned_data["id"]))
        except InvalidNoteId as exc:
            raise forms.ValidationError(exc.message, code="invalid_note_id") from None
