"""The media library: a file kept once, and its WhatsApp media id per number with the expiry."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from messaging.channels.models import Channel


class MediaAsset(models.Model):
    """A file in the library (an image, video, audio, document or sticker), checked against
    WhatsApp's types and limits when it arrived (`messaging.media.rules`).

    The same bytes are kept once (`sha256` is unique): uploading them again answers with the
    existing asset. Library assets are business material (product pictures, brochures), not
    personal data: retention and erasure leave them alone (README "Media library").
    """

    file = models.FileField(upload_to="library/%Y/%m/", max_length=255)
    name = models.CharField(max_length=100, help_text="The file's name, cleaned.")
    mime_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, help_text="image, video, audio, document or sticker")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, unique=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # When a send last used it: ids of assets used lately are renewed before they expire.
    last_used_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class MediaUpload(models.Model):
    """The media id a number's provider gave for an asset, and until when it may be used
    (Cloud API media ids last MEDIA_ID_TTL_DAYS). One row per asset and number; a renewal
    replaces the id in place."""

    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="uploads")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    media_id = models.CharField(max_length=128)
    uploaded_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    uploads = models.PositiveIntegerField(default=1, help_text="How many times it was uploaded.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asset", "channel"], name="one_media_upload_per_number")
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} on {self.channel_id}: {self.media_id}"
