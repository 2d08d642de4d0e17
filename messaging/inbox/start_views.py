"""The staff page that starts a conversation with any contact: find them, choose the number,
then write (window open) or pick an approved template with its values (window closed).

The POST always redirects (to the new thread, or back here with the draft and the reason).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.params import QueryParamError, query_id
from core.permissions import staff_permission_required
from crm.models import Contact
from crm.selectors import contact_search
from messaging.channels.selectors import channels_active, templates_sendable
from messaging.inbox.forms import ChannelChoiceForm, ReplyTextForm, TemplateReplyForm
from messaging.inbox.starting import conversation_start
from messaging.sending.models import Conversation

REPLY = ("messaging.view_conversation", "messaging.add_message")
DRAFT = "inbox-start-draft"
SEARCH_LIMIT = 20


def _id(raw) -> int | None:
    try:
        return query_id(raw, name="id")
    except QueryParamError:
        return None


def _start_url(contact_id, channel_id) -> str:
    query = {"contact": contact_id}
    if channel_id:
        query["channel"] = channel_id
    return reverse("messaging:inbox-start") + "?" + urlencode(query)


@require_http_methods(["GET", "POST"])
@staff_permission_required(*REPLY)
def inbox_start(request):
    if request.method == "POST":
        return _start_post(request)
    search = (request.GET.get("q") or "").strip()[:100]
    contact_id = _id(request.GET.get("contact"))
    context: dict = {"q": search, "contact": None}
    if contact_id is None:
        context["results"] = (
            list(contact_search(search=search).prefetch_related(None)[:SEARCH_LIMIT])
            if search
            else []
        )
        return render(request, "messaging/inbox/start.html", context)

    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise Http404("No such contact.")
    channels = channels_active().order_by("name", "pk")
    channel = channels.filter(pk=_id(request.GET.get("channel"))).first() or channels.first()
    draft = request.session.pop(DRAFT, None) or {}
    if draft.get("contact") != contact.pk or draft.get("channel") != (channel and channel.pk):
        draft = {}
    data = draft.get("data") or {}
    conversation = (
        Conversation.objects.filter(contact=contact, channel=channel).first() if channel else None
    )
    templates = templates_sendable(channel=channel) if channel else []
    template_forms = []
    for template in templates:
        if draft.get("template") == template.pk:
            template_forms.append(TemplateReplyForm(data, template=template))
        else:
            template_forms.append(TemplateReplyForm(template=template, contact=contact))
    context.update(
        contact=contact,
        channel=channel,
        channel_form=ChannelChoiceForm(initial={"channel": channel}),
        several_channels=channels.count() > 1,
        conversation=conversation,
        window_open=bool(conversation and conversation.window_open),
        text_form=ReplyTextForm(data) if draft.get("kind") == "text" else ReplyTextForm(),
        template_forms=template_forms,
        open_template=draft.get("template"),
        error=draft.get("error"),
    )
    return render(request, "messaging/inbox/start.html", context)


def _start_post(request):
    contact = Contact.objects.filter(pk=_id(request.POST.get("contact"))).first()
    channel = channels_active().filter(pk=_id(request.POST.get("channel"))).first()
    if contact is None or channel is None:
        messages.error(request, "Choose a contact and a number first.")
        return redirect("messaging:inbox-start")
    template_id = _id(request.POST.get("template"))
    draft = {
        "contact": contact.pk,
        "channel": channel.pk,
        "kind": "template" if template_id else "text",
        "template": template_id,
        "data": {k: v[:5000] for k, v in request.POST.items() if k != "csrfmiddlewaretoken"},
    }
    try:
        if template_id:
            template = templates_sendable(channel=channel).filter(pk=template_id).first()
            if template is None:
                raise DomainError(
                    "This template cannot be sent from this number.", code="template_unknown"
                )
            form = TemplateReplyForm(request.POST, template=template)
            if not form.is_valid():
                raise DomainError("Fill in every value of the template.", code="invalid")
            conversation, _ = conversation_start(
                contact=contact, channel=channel, user=request.user, template=template,
                values=form.values(),
            )  # fmt: skip
        else:
            form = ReplyTextForm(request.POST)
            if not form.is_valid():
                raise DomainError("Write a message first.", code="invalid_message")
            conversation, _ = conversation_start(
                contact=contact, channel=channel, user=request.user,
                text=form.cleaned_data["body"],
            )  # fmt: skip
    except DomainError as exc:
        request.session[DRAFT] = {**draft, "error": {"message": exc.message, "code": exc.code}}
        return redirect(_start_url(contact.pk, channel.pk))
    messages.success(request, f"Conversation with {contact.display_name} started.")
    return redirect("messaging:inbox-thread", pk=conversation.pk)
