"""Input validation for the notes pages."""

from __future__ import annotations

from django import forms

from integrations.canvas.exceptions import InvalidNoteId
from integrations.canvas.plugin import note_id_parse
from notes.worklist import TAB_ALIASES, TABS


class WorklistForm(forms.Form):
    """The worklist's query string: tab, patient search and the page cursor.

    An unknown or missing tab is "" (the view picks the user's first tab).
    """

    tab = forms.CharField(max_length=20, required=False)
    patient = forms.CharField(max_length=100, required=False, strip=True)
    cursor = forms.CharField(max_length=500, required=False)

    def clean_tab(self) -> str:
        tab = self.cleaned_data.get("tab") or ""
        tab = TAB_ALIASES.get(tab, tab)
        return tab if tab in TABS else ""


class OpenNoteForm(forms.Form):
    """The "Open by ID" box: a pasted note UUID."""

    id = forms.CharField(label="Note ID", max_length=200, strip=True)

    def clean_id(self) -> str:
        try:
            return str(note_id_parse(value=self.cleaned_data["id"]))
        except InvalidNoteId as exc:
            raise forms.ValidationError(exc.message, code="invalid_note_id") from None
