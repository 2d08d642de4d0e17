"""The staff inbox: the conversation list, a thread with its reply box, notes, and the actions.

Both the list and the thread re-render themselves as partials that htmx polls every
INBOX_POLL_SECONDS, so new messages and delivery ticks appear without a reload. Replies, notes
and actions are plain POSTs that always redirect (POST-redirect-GET, so a refresh never sends
anything again): on a refusal the typed text and the reason are kept in the session as a
draft, and the thread shows them (the reason once; the text until it is sent).
"""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from crm.services import contact_block, contact_update
from messaging.automation.models import AutomatedAnswer
from messaging.channels.selectors import templates_sendable
from messaging.inbox import services as svc
from messaging.inbox.canned import canned_replies_for_reply_box, canned_reply_render
from messaging.inbox.forms import (
    AssignForm,
    InboxFilterForm,
    LibraryReplyForm,
    MediaLinkForm,
    MediaUploadForm,
    NoteForm,
    ReplyTextForm,
    TemplateReplyForm,
)
from messaging.inbox.notes import conversation_note_add
from messaging.inbox.routing import agent_availability_set, agent_is_available
from messaging.inbox.selectors import (
    THREAD_LIMIT,
    THREAD_MAX_LIMIT,
    inbox_contacts_without_conversation,
    inbox_conversation,
    inbox_conversations,
    inbox_counts,
    inbox_last_messages,
    thread_items,
)
from messaging.inbox.survey import conversation_latest_survey
from messaging.sending.conversations import conversation_assign
from messaging.sending.models import Conversation, Message
from messaging.sending.selectors import message_conversation

PAGE_SIZE = 50
VIEW = "messaging.view_conversation"
REPLY = ("messaging.view_conversation", "messaging.add_message")
CHANGE = ("messaging.view_conversation", "messaging.change_conversation")
NOTE = CHANGE
CONTACT = ("messaging.view_conversation", "crm.change_contact")
INLINE_MEDIA = ("image/", "audio/", "video/")


def _list_context(request, *, current: Conversation | None = None) -> dict:
    form = InboxFilterForm(request.GET or None)
    kwargs = form.selector_kwargs()
    conversations = inbox_conversations(user=request.user, **kwargs)
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    last = inbox_last_messages(page.object_list)
    rows = [(c, last.get(c.last_message_id)) for c in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("current", None)
    can_start = request.user.has_perms(REPLY)
    return {
        "filter_form": form,
        "filters": kwargs,
        "page": page,
        "rows": rows,
        "new_contacts": (
            inbox_contacts_without_conversation(kwargs["search"])
            if can_start and kwargs["search"] and page.number == 1
            else []
        ),
        "can_start": can_start,
        "query": query.urlencode(),
        "current_pk": current.pk if current else None,
        "poll_seconds": settings.INBOX_POLL_SECONDS,
        "available": agent_is_available(request.user),
    }


@require_GET
@staff_permission_required(VIEW)
def inbox(request):
    context = _list_context(request)
    context["counts"] = inbox_counts(user=request.user)
    return render(request, "messaging/inbox/index.html", context)


@require_GET
@staff_permission_required(VIEW)
def inbox_list_partial(request):
    current = request.GET.get("current")
    context = _list_context(request)
    context["current_pk"] = int(current) if current and current.isdigit() else None
    return render(request, "messaging/inbox/_list.html", context)


def _conversation(pk: int) -> Conversation:
    try:
        return inbox_conversation(pk)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation.") from None


def _thread_context(request, conversation: Conversation) -> dict:
    raw = request.GET.get("limit", "")
    limit = min(int(raw), THREAD_MAX_LIMIT) if raw.isdigit() and int(raw) > 0 else THREAD_LIMIT
    items = thread_items(conversation, limit=limit)
    shown = sum(1 for item in items if item.kind == "message")
    return {
        "conversation": conversation,
        "contact": conversation.contact,
        "items": items,
        "limit": limit,
        "has_older": shown >= limit and limit < THREAD_MAX_LIMIT,
        "can_rate": request.user.has_perm("messaging.rate_automatedanswer"),
        "poll_seconds": settings.INBOX_POLL_SECONDS,
    }


def _templates(conversation: Conversation):
    return templates_sendable(channel=conversation.channel_id)


# --- Drafts (POST-redirect-GET) -----------------------------------------------------------------


def _draft_key(conversation: Conversation) -> str:
    return f"inbox-draft-{conversation.pk}"


def _refused(
    request, conversation: Conversation, *, form: str, error=None, template_id: int | None = None
):
    """Keep what was typed and why it was refused, then back to the thread (never a page
    rendered from a POST, which a refresh would send again)."""
    data = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken" and len(v) <= 5000}
    request.session[_draft_key(conversation)] = {
        "form": form,
        "data": data,
        "error": {"message": error.message, "code": error.code} if error else None,
        "template": template_id,
    }
    return redirect(_thread_url(conversation))


def _draft_take(request, conversation: Conversation) -> dict:
    """The draft to show: its reason once, its text until it is sent."""
    key = _draft_key(conversation)
    draft = request.session.get(key) or {}
    if draft and not draft.get("shown"):
        request.session[key] = {**draft, "error": None, "shown": True}
    return draft


def _draft_clear(request, conversation: Conversation) -> None:
    request.session.pop(_draft_key(conversation), None)


def _draft_forms(draft: dict, conversation: Conversation) -> dict:
    """The reply-box forms as the draft left them: bound (with their errors) the first time
    it is shown after a refusal, prefilled afterwards."""
    kind, data = draft.get("form"), draft.get("data") or {}
    bound = not draft.get("shown")
    forms: dict = {}
    if not kind:
        return forms
    if kind == "text":
        forms["text"] = ReplyTextForm(data) if bound else ReplyTextForm(initial=data)
    elif kind == "note":
        forms["note"] = NoteForm(data) if bound else NoteForm(initial=data)
    elif kind == "link":
        forms["link"] = MediaLinkForm(data) if bound else MediaLinkForm(initial=data)
    elif kind == "upload":
        forms["upload"] = MediaUploadForm(initial={"caption": data.get("caption", "")})
    elif kind == "library":
        forms["library"] = LibraryReplyForm(data) if bound else LibraryReplyForm(initial=data)
    elif kind == "template" and draft.get("template"):
        template = _templates(conversation).filter(pk=draft["template"]).first()
        if template is not None:
            prefix = f"t{template.pk}-"
            initial = {k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)}
            forms[f"template_{template.pk}"] = (
                TemplateReplyForm(data, template=template)
                if bound
                else TemplateReplyForm(template=template, initial=initial)
            )
            forms["open_template"] = template.pk
    if draft.get("error"):
        error = DomainError(draft["error"]["message"], code=draft["error"]["code"])
        forms["note_error" if kind == "note" else "error"] = error
    return forms


def _canned(user, contact) -> list[dict]:
    """The canned replies the reply box offers, ready to insert (for inbox.js)."""
    return [
        {"shortcut": r.shortcut, "title": r.title, "body": canned_reply_render(r, contact=contact)}
        for r in canned_replies_for_reply_box(user)
    ]


def _page(request, conversation: Conversation) -> object:
    user = request.user
    forms = _draft_forms(_draft_take(request, conversation), conversation)
    contact = conversation.contact
    template_forms = [
        forms.get(f"template_{t.pk}") or TemplateReplyForm(template=t, contact=contact)
        for t in _templates(conversation)
    ]
    can_reply = user.has_perms(REPLY)
    context = {
        **_list_context(request, current=conversation),
        **_thread_context(request, conversation),
        "can_reply": can_reply,
        "can_change": user.has_perms(CHANGE),
        "can_contact": user.has_perms(CONTACT),
        "can_note": user.has_perms(NOTE),
        "text_form": forms.get("text") or ReplyTextForm(),
        "note_form": forms.get("note") or NoteForm(),
        "upload_form": forms.get("upload") or MediaUploadForm(),
        "link_form": forms.get("link") or MediaLinkForm(),
        "library_form": forms.get("library") or LibraryReplyForm(),
        "can_use_library": user.has_perm("messaging.view_mediaasset"),
        "template_forms": template_forms,
        "assign_form": AssignForm(initial={"assignee": conversation.assignee_id}),
        "reply_error": forms.get("error"),
        "note_error": forms.get("note_error"),
        "open_template": forms.get("open_template"),
        "open_note": "note" in forms,
        "canned_replies": _canned(user, contact) if can_reply else [],
        "survey": conversation_latest_survey(conversation),
    }
    return render(request, "messaging/inbox/thread.html", context)


@require_GET
@staff_permission_required(VIEW)
def inbox_thread(request, pk):
    return _page(request, _conversation(pk))


@require_GET
@staff_permission_required(VIEW)
def inbox_thread_partial(request, pk):
    conversation = _conversation(pk)
    return render(request, "messaging/inbox/_thread.html", _thread_context(request, conversation))


def _thread_url(conversation) -> str:
    return reverse("messaging:inbox-thread", args=[conversation.pk]) + "#reply"


@require_POST
@staff_permission_required(*REPLY)
def inbox_reply(request, pk):
    conversation = _conversation(pk)
    form = ReplyTextForm(request.POST)
    if not form.is_valid():
        return _refused(request, conversation, form="text")
    try:
        svc.conversation_reply_text(
            conversation=conversation, user=request.user, body=form.cleaned_data["body"]
        )
    except DomainError as exc:
        return _refused(request, conversation, form="text", error=exc)
    _draft_clear(request, conversation)
    messages.success(request, "Reply queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*REPLY)
def inbox_reply_template(request, pk, template_id):
    conversation = _conversation(pk)
    template = get_object_or_404(_templates(conversation), pk=template_id)
    form = TemplateReplyForm(request.POST, template=template)
    if not form.is_valid():
        return _refused(request, conversation, form="template", template_id=template.pk)
    try:
        svc.conversation_reply_template(
            conversation=conversation, user=request.user, template=template, values=form.values()
        )
    except DomainError as exc:
        return _refused(request, conversation, form="template", error=exc, template_id=template.pk)
    _draft_clear(request, conversation)
    messages.success(request, f"Template {template.name} queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*REPLY)
def inbox_reply_media(request, pk):
    conversation = _conversation(pk)
    form = MediaUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        reason = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        error = DomainError(f"File: {reason}", code="upload_refused")
        return _refused(request, conversation, form="upload", error=error)
    try:
        svc.conversation_reply_media_upload(
            conversation=conversation, user=request.user, upload=form.cleaned_data["file"],
            caption=form.cleaned_data["caption"],
        )  # fmt: skip
    except DomainError as exc:
        return _refused(request, conversation, form="upload", error=exc)
    _draft_clear(request, conversation)
    messages.success(request, "File sent to WhatsApp and queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*REPLY, "messaging.view_mediaasset")
def inbox_reply_library(request, pk):
    """Send a media library file (by the number's media id: uploaded once, reused)."""
    conversation = _conversation(pk)
    form = LibraryReplyForm(request.POST)
    if not form.is_valid():
        return _refused(request, conversation, form="library")
    try:
        svc.conversation_reply_asset(
            conversation=conversation, user=request.user, asset=form.cleaned_data["asset"],
            caption=form.cleaned_data["caption"],
        )  # fmt: skip
    except DomainError as exc:
        return _refused(request, conversation, form="library", error=exc)
    _draft_clear(request, conversation)
    messages.success(request, "Library file queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*REPLY)
def inbox_reply_link(request, pk):
    conversation = _conversation(pk)
    form = MediaLinkForm(request.POST)
    if not form.is_valid():
        return _refused(request, conversation, form="link")
    data = form.cleaned_data
    try:
        svc.conversation_reply_media_link(
            conversation=conversation, user=request.user, kind=data["kind"], link=data["link"],
            caption=data["caption"],
        )  # fmt: skip
    except DomainError as exc:
        return _refused(request, conversation, form="link", error=exc)
    _draft_clear(request, conversation)
    messages.success(request, "Media queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*NOTE)
def inbox_note(request, pk):
    """Add an internal note (staff only, never sent)."""
    conversation = _conversation(pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _refused(request, conversation, form="note")
    try:
        conversation_note_add(
            conversation=conversation, author=request.user, text=form.cleaned_data["text"]
        )
    except DomainError as exc:
        return _refused(request, conversation, form="note", error=exc)
    _draft_clear(request, conversation)
    messages.success(request, "Note added (only staff see it).")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(VIEW)
def inbox_availability(request):
    """The signed-in agent says whether they take new conversations."""
    available = request.POST.get("available") == "1"
    agent_availability_set(user=request.user, available=available)
    messages.success(
        request,
        "You are available: new conversations come to you in turn."
        if available
        else "You are away: no new conversations are assigned to you.",
    )
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("messaging:inbox")
    return redirect(target)


CONVERSATION_ACTIONS = ("read", "assign", "assign-me", "close", "reopen")
CONTACT_ACTIONS = ("pin", "unpin", "block", "unblock")


@require_POST
@staff_permission_required(VIEW)
def inbox_action(request, pk, action):
    conversation = _conversation(pk)
    user = request.user
    if action in CONVERSATION_ACTIONS:
        if not user.has_perms(CHANGE):
            raise PermissionDenied
    elif action in CONTACT_ACTIONS:
        if not user.has_perms(CONTACT):
            raise PermissionDenied
    else:
        raise Http404("No such action.")
    contact = conversation.contact
    try:
        if action == "read":
            # An agent who may answer is about to: the contact sees the typing dots.
            svc.conversation_mark_read(conversation=conversation, typing=user.has_perms(REPLY))
            if request.htmx:  # the thread page marks itself read as it opens: no page to show
                return HttpResponse(status=204)
            messages.success(request, "Marked as read.")
        elif action == "assign-me":
            conversation_assign(conversation=conversation, assignee=user, actor=user)
            messages.success(request, "Assigned to you.")
        elif action == "assign":
            form = AssignForm(request.POST)
            if not form.is_valid():
                raise DomainError("Choose someone who can use the inbox.", code="invalid_assignee")
            assignee = form.cleaned_data["assignee"]
            conversation_assign(conversation=conversation, assignee=assignee, actor=user)
            who = assignee.get_username() if assignee else "nobody"
            messages.success(request, f"Assigned to {who}.")
        elif action == "close":
            svc.conversation_close(conversation=conversation, actor=user)
            messages.success(request, "Conversation closed.")
        elif action == "reopen":
            svc.conversation_reopen(conversation=conversation, actor=user)
            messages.success(request, "Conversation reopened.")
        elif action in ("pin", "unpin"):
            contact_update(contact=contact, actor=user, pinned=action == "pin")
            messages.success(request, "Pinned." if action == "pin" else "Unpinned.")
        elif action in ("block", "unblock"):
            contact_block(contact=contact, blocked=action == "block", actor=user)
            messages.success(request, "Blocked." if action == "block" else "Unblocked.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("messaging:inbox-thread", pk=conversation.pk)


@require_POST
@staff_permission_required(VIEW, "messaging.rate_automatedanswer")
def inbox_rate(request, pk):
    answer = get_object_or_404(AutomatedAnswer.objects.select_related("message"), pk=pk)
    try:
        svc.answer_rate(answer=answer, rating=request.POST.get("rating"), user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    thread = message_conversation(answer.message)
    conversation = thread.pk if thread else None
    if request.htmx and conversation:
        return redirect("messaging:inbox-thread-partial", pk=conversation)
    if conversation:
        return redirect("messaging:inbox-thread", pk=conversation)
    return redirect("messaging:inbox")


@require_GET
@staff_permission_required(VIEW)
def inbox_media(request, message_id):
    """A message's stored media file, for staff only: images, audio and video inline,
    anything else as a download (never rendered by the browser as a page)."""
    message = get_object_or_404(Message.objects.exclude(media_file=""), pk=message_id)
    mime_type = str(message.content.get("mime_type") or "") or (
        mimetypes.guess_type(message.media_file.name)[0] or "application/octet-stream"
    )
    inline = mime_type.startswith(INLINE_MEDIA) and "svg" not in mime_type
    response = FileResponse(
        message.media_file.open("rb"),
        as_attachment=not inline,
        filename=message.media_file.name.rsplit("/", 1)[-1],
        content_type=mime_type if inline else "application/octet-stream",
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response
