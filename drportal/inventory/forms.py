from __future__ import annotations

from django import forms


class ImportForm(forms.Form):
    document = forms.FileField(help_text="An inventory YAML document (see docs/inventory.md).")
    adopt = forms.BooleanField(required=False, label="Adopt objects of other organisations",
                               help_text="Let this document change, and take over, objects another "
                                         "organisation's document created.")

    def clean_document(self):
        doc = self.cleaned_data["document"]
        if doc.size > 5 * 1024 * 1024:
            raise forms.ValidationError("The document is larger than 5 MB.")
        return doc
