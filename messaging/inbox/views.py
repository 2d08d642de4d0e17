"""The staff inbox: the conversation list, a thread with its reply box, and the actions.

Both the list and the thread re-render themselves as partials that htmx polls every
INBOX_POLL_SECONDS, so new messages and delivery ticks appear without a reload. Replies and
actions are plain POSTs (redirect after success; the page again, with the reason, on refusal).
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
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from crm.services import contact_block, contact_update
from messaging.automation.models import AutomatedAnswer
from messaging.channels.selectors import templates_sendable
from messaging.inbox import services as svc
from messaging.inbox.forms import (
    AssignForm,
    InboxFilterForm,
    MediaLinkForm,
    MediaUploadForm,
    ReplyTextForm,
    TemplateReplyForm,
)
from messaging.inbox.selectors import (
    THREAD_LIMIT,
    THREAD_MAX_LIMIT,
    inbox_conversation,
    inbox_conversations,
    inbox_counts,
    inbox_last_messages,
    thread_items,
)
from messaging.sending.conversations import conversation_assign
from messaging.sending.models import Conversation, Message
from messaging.sending.selectors import message_conversation

PAGE_SIZE = 50
VIEW = "messaging.view_conversation"
REPLY = ("messaging.view_conversation", "messaging.add_message")
CHANGE = ("messaging.view_conversation", "messaging.change_conversation")
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
    return {
        "filter_form": form,
        "filters": kwargs,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "current_pk": current.pk if current else None,
        "poll_seconds": settings.INBOX_POLL_SECONDS,
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


def _page(request, conversation: Conversation, *, status: int = 200, **forms) -> object:
    user = request.user
    template_forms = [
        forms.get(f"template_{t.pk}") or TemplateReplyForm(template=t)
        for t in _templates(conversation)
    ]
    context = {
        **_list_context(request, current=conversation),
        **_thread_context(request, conversation),
        "can_reply": user.has_perms(REPLY),
        "can_change": user.has_perms(CHANGE),
        "can_contact": user.has_perms(CONTACT),
        "text_form": forms.get("text") or ReplyTextForm(),
        "upload_form": forms.get("upload") or MediaUploadForm(),
        "link_form": forms.get("link") or MediaLinkForm(),
        "template_forms": template_forms,
        "assign_form": AssignForm(initial={"assignee": conversation.assignee_id}),
        "reply_error": forms.get("error"),
        "open_template": forms.get("open_template"),
    }
    return render(request, "messaging/inbox/thread.html", context, status=status)


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
        return _page(request, conversation, status=422, text=form)
    try:
        svc.conversation_reply_text(
            conversation=conversation, user=request.user, body=form.cleaned_data["body"]
        )
    except DomainError as exc:
        return _page(request, conversation, status=422, text=form, error=exc)
    messages.success(request, "Reply queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*REPLY)
def inbox_reply_template(request, pk, template_id):
    conversation = _conversation(pk)
    template = get_object_or_404(_templates(conversation), pk=template_id)
    form = TemplateReplyForm(request.POST, template=template)
    forms = {f"template_{template.pk}": form, "open_template": template.pk}
    if not form.is_valid():
        return _page(request, conversation, status=422, **forms)
    try:
        svc.conversation_reply_template(
            conversation=conversation, user=request.user, template=template, values=form.values()
        )
    except DomainError as exc:
        return _page(request, conversation, status=422, error=exc, **forms)
    messages.success(request, f"Template {template.name} queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*REPLY)
def inbox_reply_media(request, pk):
    conversation = _conversation(pk)
    form = MediaUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, conversation, status=422, upload=form)
    try:
        svc.conversation_reply_media_upload(
            conversation=conversation, user=request.user, upload=form.cleaned_data["file"],
            caption=form.cleaned_data["caption"],
        )  # fmt: skip
    except DomainError as exc:
        return _page(request, conversation, status=422, upload=form, error=exc)
    messages.success(request, "File sent to WhatsApp and queued.")
    return redirect(_thread_url(conversation))


@require_POST
@staff_permission_required(*REPLY)
def inbox_reply_link(request, pk):
    conversation = _conversation(pk)
    form = MediaLinkForm(request.POST)
    if not form.is_valid():
        return _page(request, conversation, status=422, link=form)
    data = form.cleaned_data
    try:
        svc.conversation_reply_media_link(
            conversation=conversation, user=request.user, kind=data["kind"], link=data["link"],
            caption=data["caption"],
        )  # fmt: skip
    except DomainError as exc:
        return _page(request, conversation, status=422, link=form, error=exc)
    messages.success(request, "Media queued.")
    return redirect(_thread_url(conversation))


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
