"""Staff forms of automation: an FAQ entry, and a question to try the responder with."""

from __future__ import annotations

from django import forms

from messaging.automation.models import FaqEntry


class FaqEntryForm(forms.ModelForm):
    class Meta:
        model = FaqEntry
        fields = ["question", "keywords", "answer", "topic", "enabled"]
        widgets = {"answer": forms.Textarea(attrs={"rows": 4})}

    def clean_answer(self):
        answer = self.cleaned_data["answer"].strip()
        if len(answer) > 4096:
            raise forms.ValidationError("At most 4,096 characters (WhatsApp's text limit).")
        return answer

    def clean_topic(self):
        return " ".join(self.cleaned_data["topic"].split()).lower()


class FaqTryForm(forms.Form):
    question = forms.CharField(label="Try a question", max_length=1000)
