"""Forms of the media library page."""

from django import forms

from messaging.channels.selectors import channels_active


class MediaAssetUploadForm(forms.Form):
    file = forms.FileField(
        help_text="Images jpg/png up to 5 MB, video mp4/3gp and audio up to 16 MB, documents "
        "(pdf, txt, Office) up to 100 MB, webp stickers up to 500 KB."
    )
    channel = forms.ModelChoiceField(
        queryset=channels_active(), required=False, empty_label="Later, at its first send",
        label="Upload to WhatsApp now for",
    )  # fmt: skip
