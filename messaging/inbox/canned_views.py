"""Staff pages for canned replies: the list (global ones and the user's teams'; every team's
for those who manage them all), create, edit, delete. Scope rules: `messaging.inbox.canned`."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.permissions import staff_permission_required
from messaging.inbox.canned import (
    NotYourTeam,
    canned_replies_visible,
    canned_reply_delete,
    canned_reply_may_write,
    canned_reply_save,
)
from messaging.inbox.forms import CannedReplyForm
from messaging.inbox.models import CannedReply

VIEW = "messaging.view_cannedreply"


@require_GET
@staff_permission_required(VIEW)
def canned_list(request):
    term = (request.GET.get("q") or "").strip()[:100]
    replies = canned_replies_visible(request.user)
    if term:
        replies = replies.filter(
            Q(shortcut__icontains=term) | Q(title__icontains=term) | Q(body__icontains=term)
        )
    rows = [(r, canned_reply_may_write(request.user, r.team)) for r in replies]
    return render(request, "messaging/inbox/canned_list.html", {"rows": rows, "q": term})


def _form_page(request, *, reply: CannedReply | None):
    user = request.user
    if request.method == "POST":
        form = CannedReplyForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                canned_reply_save(
                    user=user, reply=reply, team=data["team"], shortcut=data["shortcut"],
                    title=data["title"], body=data["body"],
                )  # fmt: skip
            except NotYourTeam:
                raise PermissionDenied from None
            except DomainError as exc:
                field = "shortcut" if exc.code == "duplicate_shortcut" else None
                form.add_error(field, exc.message)
            else:
                messages.success(request, f"Canned reply /{data['shortcut']} saved.")
                return redirect("messaging:canned-list")
    elif reply is not None:
        form = CannedReplyForm(
            user=user,
            initial={
                "team": reply.team, "shortcut": reply.shortcut, "title": reply.title,
                "body": reply.body,
            },
        )  # fmt: skip
    else:
        form = CannedReplyForm(user=user)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "messaging/inbox/canned_form.html", {"form": form, "reply": reply}, status=status
    )


def _writable(request, pk) -> CannedReply:
    reply = get_object_or_404(canned_replies_visible(request.user), pk=pk)
    if not canned_reply_may_write(request.user, reply.team):
        raise PermissionDenied
    return reply


@require_http_methods(["GET", "POST"])
@staff_permission_required(VIEW, "messaging.add_cannedreply")
def canned_create(request):
    return _form_page(request, reply=None)


@require_http_methods(["GET", "POST"])
@staff_permission_required(VIEW, "messaging.change_cannedreply")
def canned_edit(request, pk):
    return _form_page(request, reply=_writable(request, pk))


@require_POST
@staff_permission_required(VIEW, "messaging.delete_cannedreply")
def canned_remove(request, pk):
    reply = _writable(request, pk)
    canned_reply_delete(user=request.user, reply=reply)
    messages.success(request, f"Canned reply /{reply.shortcut} deleted.")
    return redirect("messaging:canned-list")
