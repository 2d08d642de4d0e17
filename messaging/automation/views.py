"""A small staff page for the FAQ the automatic responder answers from."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.permissions import staff_permission_required
from messaging.automation.forms import FaqEntryForm, FaqTryForm
from messaging.automation.models import FaqEntry
from messaging.automation.responders.faq import FaqResponder, faq_best_match


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


@require_POST
@staff_permission_required("messaging.delete_faqentry")
def faq_delete(request, pk):
    entry = get_object_or_404(FaqEntry, pk=pk)
    entry.delete()
    messages.success(request, f"Deleted: {entry.question}")
    return redirect("messaging:faq-list")
