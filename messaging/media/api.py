"""Media library API: upload a file once, list, read, delete; send it by its id (`asset`)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from core.errors import DomainError
from messaging.channels.selectors import channels_active
from messaging.media.models import MediaAsset, MediaUpload
from messaging.media.selectors import KINDS, media_asset_list
from messaging.media.services import media_asset_create, media_asset_delete, media_upload
from messaging.providers import ProviderError


class UploadFailed(DomainError):
    """The file is in the library; the number's provider did not take it (try again later)."""

    code = "upload_failed"
    status_code = 502


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "upload_too_large"


class MediaUploadSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.phone_number_id")

    class Meta:
        model = MediaUpload
        fields = ["channel", "media_id", "uploaded_at", "expires_at"]
        read_only_fields = fields


class MediaAssetSerializer(serializers.ModelSerializer):
    uploads = MediaUploadSerializer(
        many=True, read_only=True,
        help_text="Its WhatsApp media id on each number, and until when that id is used.",
    )  # fmt: skip

    class Meta:
        model = MediaAsset
        fields = ["id", "name", "kind", "mime_type", "size", "sha256", "created_at",
                  "last_used_at", "uploads"]  # fmt: skip
        read_only_fields = fields


class MediaAssetCreateSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="jpg/png (5 MB), mp4/3gp (16 MB), aac/m4a/mp3/amr/ogg (16 MB), "
        "pdf/txt/doc(x)/xls(x)/ppt(x) (100 MB), webp stickers (500 KB)."
    )
    channel = serializers.SlugRelatedField(
        slug_field="phone_number_id", queryset=channels_active(), required=False,
        help_text="phone_number_id: upload it to this number now (otherwise at its first send).",
    )  # fmt: skip


def _too_large(request) -> bool:
    """Refuse by Content-Length before Django reads a huge body into a temporary file."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.MEDIA_LIBRARY_MAX_BYTES + 64 * 1024


class MediaAssetListCreateView(generics.ListCreateAPIView):
    """The media library. POST (multipart `file`, optional `channel`) keeps a file once: the
    same bytes again answer 200 with the existing asset. Send it from any send body with
    `{"asset": <id>}` in place of `id`/`link` (`"image": {"asset": 12, "caption": "..."}`,
    a template's header parameter, an interactive header): the number's media id is used,
    uploaded on first use and again before it expires. Refusals are 422 with `code`
    `upload_type_refused`, `upload_too_large` or `upload_empty`; a body over the library's
    cap is 413."""

    serializer_class = MediaAssetSerializer
    parser_classes = [MultiPartParser, FormParser]
    queryset = MediaAsset.objects.none()
    search_fields = ["name"]
    ordering_fields = ["created_at", "size", "name"]
    throttle_scope = "bulk"

    def get_queryset(self):
        kind = self.request.query_params.get("kind", "")
        return media_asset_list(kind=kind if kind in KINDS else "")

    def get_throttles(self):
        if self.request.method != "POST":
            self.throttle_scope = None
        return super().get_throttles()

    @extend_schema(parameters=[OpenApiParameter("kind", str, enum=KINDS)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": MediaAssetCreateSerializer},
        responses={201: MediaAssetSerializer, 200: MediaAssetSerializer},
    )
    def post(self, request, *args, **kwargs):
        if _too_large(request):
            limit = settings.MEDIA_LIBRARY_MAX_BYTES // (1024 * 1024)
            raise PayloadTooLarge(f"The file is larger than the library's {limit} MB limit.")
        serializer = MediaAssetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        asset, created = media_asset_create(upload=data["file"], uploaded_by=request.user)
        channel = data.get("channel")
        if channel is not None:
            try:
                media_upload(asset=asset, channel=channel)
            except ProviderError as exc:
                raise UploadFailed(
                    f"The file is in the library, but {channel.name} did not take it: "
                    f"{exc.message}",
                    details={"asset": asset.pk, "channel": [channel.phone_number_id]},
                ) from exc
        asset = media_asset_list().get(pk=asset.pk)
        return Response(
            MediaAssetSerializer(asset).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MediaAssetDetailView(generics.RetrieveDestroyAPIView):
    """One library file; DELETE removes it and its file (409 `media_asset_in_use` while an
    unfinished campaign uses it)."""

    serializer_class = MediaAssetSerializer
    queryset = MediaAsset.objects.none()

    def get_queryset(self):
        return media_asset_list()

    def perform_destroy(self, instance):
        media_asset_delete(asset=instance)
