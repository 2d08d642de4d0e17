"""Staff pages of automation: the auto-reply rules (with a "try a message" box that runs the
same matching as the inbound path) and the FAQ the automatic responder answers from."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.permissions import staff_permission_required
from messaging.automation.forms import AutoReplyRuleForm, AutoReplyTryForm, FaqEntryForm, FaqTryForm
from messaging.automation.models import AutoReplyRule, FaqEntry
from messaging.automation.office_hours import office_hours_describe
from messaging.automation.responders.faq import FaqResponder, faq_best_match
from messaging.automation.services import (
    autoreply_disabled_matches,
    autoreply_preview,
    autoreply_rule_disable,
    autoreply_rule_enable,
)

# --- Auto-reply rules ---------------------------------------------------------------------------


def _rules():
    return AutoReplyRule.objects.select_related("template", "assign_to", "tag").order_by(
        "order", "id"
    )


@require_GET
@staff_permission_required("messaging.view_autoreplyrule")
def autoreply_list(request):
    """The rules in the order they run, and the "try a message" box (a GET: nothing is
    sent or written, so the result can be bookmarked and shared)."""
    try_form = AutoReplyTryForm(request.GET if "kind" in request.GET else None)
    tried = None
    if try_form.is_bound and try_form.is_valid():
        sample = {k: try_form.cleaned_data[k] for k in ("kind", "text", "payload", "reply_id")}
        sample["at"] = try_form.cleaned_data["at"]
        steps = autoreply_preview(**sample)
        tried = {
            "steps": steps,
            # A rule acts, or something (a rule, Click-to-Unlock, a responder) would reply.
            "fires": any(s.rule is not None or s.would_send for s in steps),
            "disabled": autoreply_disabled_matches(**sample),
        }
    return render(
        request,
        "messaging/autoreplies/list.html",
        {
            "rules": _rules(),
            "try_form": try_form,
            "tried": tried,
            "office_hours": office_hours_describe(),
        },
    )


def _rule_form_page(request, form, rule):
    return render(
        request,
        "messaging/autoreplies/form.html",
        {"form": form, "rule": rule, "office_hours": office_hours_describe()},
        status=422 if form.is_bound and form.errors else 200,
    )


@staff_permission_required("messaging.add_autoreplyrule")
def autoreply_create(request):
    form = AutoReplyRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, f"Rule {rule.name!r} saved.")
        return redirect("messaging:autoreply-list")
    return _rule_form_page(request, form, None)


@staff_permission_required("messaging.change_autoreplyrule")
def autoreply_edit(request, pk):
    rule = get_object_or_404(_rules(), pk=pk)
    form = AutoReplyRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Rule {rule.name!r} saved.")
        return redirect("messaging:autoreply-list")
    return _rule_form_page(request, form, rule)


@require_GET
@staff_permission_required("messaging.change_autoreplyrule")
def autoreply_template_fields(request):
    """htmx partial: the parameter inputs of the template just chosen in the rule form."""
    form = AutoReplyRuleForm(
        {"template": request.GET.get("template", "")},
        instance=_rule_for_fields(request),
    )
    return render(request, "messaging/autoreplies/_template_fields.html", {"form": form})


def _rule_for_fields(request) -> AutoReplyRule:
    """The rule being edited (so its saved values fill the inputs again), or a new one."""
    rule_id = request.GET.get("rule", "")
    rule = _rules().filter(pk=int(rule_id)).first() if rule_id.isdigit() else None
    return rule or AutoReplyRule()


@require_POST
@staff_permission_required("messaging.change_autoreplyrule")
def autoreply_enable(request, pk):
    rule = get_object_or_404(_rules(), pk=pk)
    problems = autoreply_rule_enable(rule=rule)
    if problems:
        messages.error(
            request, f"{rule.name} stays disabled: {' '.join(problems.values())} Edit it to fix."
        )
    else:
        messages.success(request, f"{rule.name} enabled.")
    return redirect("messaging:autoreply-list")


@require_POST
@staff_permission_required("messaging.change_autoreplyrule")
def autoreply_disable(request, pk):
    rule = get_object_or_404(_rules(), pk=pk)
    autoreply_rule_disable(rule=rule)
    messages.success(request, f"{rule.name} disabled.")
    return redirect("messaging:autoreply-list")


@require_POST
@staff_permission_required("messaging.delete_autoreplyrule")
def autoreply_delete(request, pk):
    rule = get_object_or_404(AutoReplyRule, pk=pk)
    rule.delete()
    messages.success(request, f"Deleted: {rule.name}")
    return redirect("messaging:autoreply-list")


# --- FAQ ----------------------------------------------------------------------------------------


@require_GET
@staff_permission_required("messaging.view_faqentry")
def faq_moved(request):
    """Where the FAQ lived before it had its own setup page: old bookmarks still arrive."""
    return redirect("messaging:faq-list", permanent=True)


@require_GET
@staff_permission_required("messaging.view_faqentry")
def faq_list(request):
    entries = FaqEntry.objects.all()
    query = request.GET.get("q", "").strip()
    if query:
        entries = entries.filter(
            Q(question__icontains=query) | Q(keywords__icontains=query) | Q(topic__icontains=query)
        )
    try_form = FaqTryForm(request.GET if "question" in request.GET else None)
    result = None
    if try_form.is_bound and try_form.is_valid():
        question = try_form.cleaned_data["question"]
        responder = FaqResponder()
        result = {
            "match": faq_best_match(question),
            "answer": responder.answer(question),
            "threshold": responder.threshold,
        }
    return render(
        request,
        "messaging/faq/list.html",
        {"entries": entries, "q": query, "try_form": try_form, "result": result},
    )


@staff_permission_required("messaging.add_faqentry")
def faq_create(request):
    form = FaqEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "FAQ entry added.")
        return redirect("messaging:faq-list")
    return render(request, "messaging/faq/form.html", {"form": form, "entry": None})


@staff_permission_required("messaging.change_faqentry")
def faq_edit(request, pk):
    entry = get_object_or_404(FaqEntry, pk=pk)
    form = FaqEntryForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "FAQ entry saved.")
        return redirect("messaging:faq-list")
    return render(request, "messaging/faq/form.html", {"form": form, "entry": entry})


def _faq_set_enabled(request, pk, enabled: bool):
    """Turn an entry on or off without opening it (saved through the model: audited)."""
    entry = get_object_or_404(FaqEntry, pk=pk)
    if entry.enabled != enabled:
        entry.enabled = enabled
        entry.save(update_fields=["enabled", "updated_at"])
    messages.success(request, f"{entry.question} {'enabled' if enabled else 'disabled'}.")
    return redirect("messaging:faq-list")


@require_POST
@staff_permission_required("messaging.change_faqentry")
def faq_enable(request, pk):
    return _faq_set_enabled(request, pk, True)


@require_POST
@staff_permission_required("messaging.change_faqentry")
def faq_disable(request, pk):
    return _faq_set_enabled(request, pk, False)


@require_POST
@staff_permission_required("messaging.delete_faqentry")
def faq_delete(request, pk):
    entry = get_object_or_404(FaqEntry, pk=pk)
    entry.delete()
    messages.success(request, f"Deleted: {entry.question}")
    return redirect("messaging:faq-list")
