"""The media library page: the files, with thumbnails; upload; delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.params import query_text
from core.permissions import staff_permission_required
from messaging.media.forms import MediaAssetUploadForm
from messaging.media.models import MediaAsset
from messaging.media.rules import INLINE_TYPES
from messaging.media.selectors import KINDS, media_asset_list
from messaging.media.services import media_asset_create, media_asset_delete, media_upload
from messaging.providers import ProviderError

VIEW = "messaging.view_mediaasset"


@require_http_methods(["GET", "POST"])
@staff_permission_required(VIEW)
def media_index(request):
    """The library; POST (permission `messaging.add_mediaasset`) adds a file."""
    form = MediaAssetUploadForm()
    if request.method == "POST":
        if not request.user.has_perm("messaging.add_mediaasset"):
            raise PermissionDenied
        form = MediaAssetUploadForm(request.POST, request.FILES)
        if form.is_valid() and _upload(request, form):
            return redirect("messaging:media-list")
    kind = request.GET.get("kind", "")
    kind = kind if kind in KINDS else ""
    try:
        q = query_text(request.GET.get("q"), name="q", max_length=100)
    except DomainError:
        q = ""
    page = Paginator(media_asset_list(kind=kind, search=q), 48).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/media/list.html",
        {
            "page": page, "form": form, "kinds": KINDS, "kind": kind, "q": q,
            "inline_types": INLINE_TYPES,
            "can_add": request.user.has_perm("messaging.add_mediaasset"),
            "can_delete": request.user.has_perm("messaging.delete_mediaasset"),
        },
    )  # fmt: skip


def _upload(request, form) -> bool:
    try:
        asset, created = media_asset_create(
            upload=form.cleaned_data["file"], uploaded_by=request.user
        )
    except DomainError as exc:
        form.add_error("file", f"{exc.message} ({exc.code})")
        return False
    if created:
        messages.success(request, f"{asset.name} is in the library.")
    else:
        messages.info(request, f"This file is already in the library as {asset.name}.")
    channel = form.cleaned_data.get("channel")
    if channel is not None:
        try:
            media_upload(asset=asset, channel=channel)
        except ProviderError as exc:
            messages.warning(
                request, f"{channel.name} did not take it yet ({exc.message}); "
                "it is uploaded again at its first send.",
            )  # fmt: skip
        else:
            messages.success(request, f"Uploaded to {channel.name}.")
    return True


@require_POST
@staff_permission_required("messaging.delete_mediaasset")
def media_delete(request, pk):
    asset = get_object_or_404(MediaAsset, pk=pk)
    try:
        media_asset_delete(asset=asset)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deleted {asset.name}.")
    return redirect("messaging:media-list")


@require_GET
@staff_permission_required(VIEW)
def media_file(request, pk):
    """An asset's file for staff: jpeg, png and webp inline (thumbnails), anything else as a
    download (`application/octet-stream`, attachment), never rendered by the browser as a
    page; `nosniff` and a sandboxing CSP on every answer."""
    asset = get_object_or_404(MediaAsset, pk=pk)
    inline = asset.mime_type in INLINE_TYPES
    try:
        handle = asset.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=asset.name,
        content_type=asset.mime_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
