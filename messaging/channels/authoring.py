"""Templates made in Parley (README "Template builder"): create a draft, change it, submit it
to the provider for review, edit it once submitted, delete it.

Meta's rules are checked by `messaging.providers.template_rules` before anything leaves:
a draft that breaks one is refused with every problem named by field (`TemplateInvalid`).
Meta's answer comes back by webhook (`messaging.channels.templates`), and every step is kept
in the template's history (`TemplateEvent`) and, for the actions staff take at Meta, in the
audit log.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from core.audit import AuditAction, audit_record
from core.errors import Conflict, DomainError, InvalidTransition
from messaging.channels.clients import provider_for_channel
from messaging.channels.models import (
    Channel,
    MessageTemplate,
    TemplateEventKind,
    TemplateEventSource,
    TemplateStatus,
)
from messaging.channels.opt_out import template_opt_out_buttons
from messaging.channels.template_history import template_event_record, template_status_set
from messaging.channels.template_media import (
    HeaderAssetError,
    components_for_rules,
    components_resolved,
    header_asset_problems,
)
from messaging.channels.templates import templates_sync_enqueue
from messaging.providers import (
    AmbiguousError,
    ProviderError,
    TemporaryError,
    parse_template_parameters,
)
from messaging.providers.template_rules import (
    RuleError,
    parameter_format_of,
    template_edit_limit_problem,
    template_edit_problems,
    template_problems,
)

logger = logging.getLogger(__name__)

# Meta accepts edits of templates in these statuses; the others are being reviewed or gone.
EDITABLE_AT_PROVIDER = (TemplateStatus.APPROVED, TemplateStatus.REJECTED, TemplateStatus.PAUSED)
DEFINITION_FIELDS = ("name", "language", "category", "components", "parameter_format")


class TemplateInvalid(DomainError):
    """The definition breaks Meta's rules; `details` maps each field to its problems."""

    code = "invalid_template"
    status_code = 400


class TemplateSubmitFailed(DomainError):
    """The provider refused or could not take the submission (recorded in the history)."""

    code = "provider_refused"
    status_code = 422


def _errors(problems: list[RuleError]) -> dict[str, list[str]]:
    details: dict[str, list[str]] = {}
    for problem in problems:
        details.setdefault(problem.field, []).append(problem.message)
    return details


def _raise_if(problems: list[RuleError]) -> None:
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise TemplateInvalid(f"{first}{more}", details=_errors(problems))


def _problems(definition: dict[str, Any]) -> list[RuleError]:
    """Meta's rules, with a library file chosen as the header example (`header_asset`)
    checked here and standing for the handle it becomes at submission."""
    components = definition.get("components")
    return header_asset_problems(components) + template_problems(
        {**definition, "components": components_for_rules(components)}
    )


def _resolved(components: Any, channel: Channel) -> Any:
    """The components the provider gets: a library header file becomes a fresh handle.
    A file that cannot serve refuses the submission (the template stays as it was)."""
    try:
        return components_resolved(components, channel)
    except HeaderAssetError as exc:
        raise TemplateInvalid(exc.message, details=exc.details) from None


def template_definition(template: MessageTemplate) -> dict[str, Any]:
    """The body Meta's `POST /{waba_id}/message_templates` takes for `template`."""
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "parameter_format": (template.parameter_format or "positional").upper(),
        "components": template.components,
    }


def _derived(definition: dict[str, Any]) -> dict[str, Any]:
    """The fields Parley keeps beside the components: format, parameters, opt-out buttons."""
    fmt = parameter_format_of(definition["components"], definition.get("parameter_format"))
    params = parse_template_parameters(definition["components"], fmt)
    return {
        "parameter_format": fmt.lower(),
        "parameters": {"header": params.header, "body": params.body, "buttons": params.buttons},
        "opt_out_buttons": template_opt_out_buttons(
            category=definition["category"], components=definition["components"]
        ),
    }


def _clean(definition: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(definition)
    cleaned["name"] = str(cleaned.get("name") or "").strip()
    cleaned["language"] = str(cleaned.get("language") or "").strip()
    cleaned["category"] = str(cleaned.get("category") or "").strip().upper()
    fmt = str(cleaned.get("parameter_format") or "").strip().upper()
    cleaned["parameter_format"] = fmt or None
    return cleaned


def template_create(
    *,
    channel: Channel,
    name: str,
    language: str,
    category: str,
    components: list[dict[str, Any]],
    parameter_format: str | None = None,
    created_by=None,
    source: str = TemplateEventSource.STAFF,
) -> MessageTemplate:
    """A new DRAFT template on `channel`, checked against Meta's rules; not submitted."""
    definition = _clean(
        {
            "name": name,
            "language": language,
            "category": category,
            "components": components,
            "parameter_format": parameter_format,
        }
    )
    _raise_if(_problems(definition))
    if MessageTemplate.objects.filter(
        channel=channel, name=definition["name"], language=definition["language"]
    ).exists():
        raise TemplateInvalid(
            f"{channel.name} already has a template {definition['name']} in "
            f"{definition['language']}.",
            details={"name": ["This number already has a template with this name and language."]},
        )
    try:
        with transaction.atomic():
            template = MessageTemplate.objects.create(
                channel=channel,
                name=definition["name"],
                language=definition["language"],
                category=definition["category"],
                components=definition["components"],
                status=TemplateStatus.DRAFT,
                authored_in_parley=True,
                created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
                **_derived(definition),
            )
    except IntegrityError:
        raise Conflict("A template with this name and language was just created.") from None
    template_event_record(
        template=template, kind=TemplateEventKind.CREATED, source=source,
        status_to=TemplateStatus.DRAFT, actor=created_by,
    )  # fmt: skip
    return template


def template_update(
    *,
    template: MessageTemplate,
    changes: dict[str, Any],
    actor=None,
    source: str = TemplateEventSource.STAFF,
) -> MessageTemplate:
    """Change a template.

    A DRAFT is changed here only. A template the provider knows (APPROVED, REJECTED or
    PAUSED) is edited at the provider at once, within Meta's edit rules: the name and
    language never change, an approved template keeps its category and may be edited once a
    day and ten times in 30 days; it goes back to PENDING review.
    """
    changes = {k: v for k, v in changes.items() if k in DEFINITION_FIELDS}
    if template.status == TemplateStatus.DRAFT:
        return _draft_update(template=template, changes=changes, actor=actor, source=source)
    if template.status not in EDITABLE_AT_PROVIDER:
        raise InvalidTransition(
            f"Template {template.name} is {template.status}: Meta accepts edits of approved, "
            "rejected or paused templates only."
        )
    return _provider_edit(template=template, changes=changes, actor=actor, source=source)


def _draft_update(*, template, changes, actor, source) -> MessageTemplate:
    definition = _clean({**template_definition(template), **changes})
    _raise_if(_problems(definition))
    clash = (
        MessageTemplate.objects.filter(
            channel_id=template.channel_id,
            name=definition["name"],
            language=definition["language"],
        )
        .exclude(pk=template.pk)
        .exists()
    )
    if clash:
        raise TemplateInvalid(
            "Another template already has this name and language.",
            details={"name": ["This number already has a template with this name and language."]},
        )
    values = {
        "name": definition["name"],
        "language": definition["language"],
        "category": definition["category"],
        "components": definition["components"],
        **_derived(definition),
    }
    changed = [k for k, v in values.items() if getattr(template, k) != v]
    if not changed:
        return template
    for key in changed:
        setattr(template, key, values[key])
    template.save(update_fields=[*changed, "updated_at"])
    template_event_record(
        template=template, kind=TemplateEventKind.CHANGED, source=source, actor=actor,
        detail={"fields": sorted(set(changed) & set(DEFINITION_FIELDS))},
    )  # fmt: skip
    return template


def _recent_edits(template: MessageTemplate) -> list:
    since = timezone.now() - dt.timedelta(days=31)
    return list(
        template.events.filter(
            kind=TemplateEventKind.EDIT_SUBMITTED, created_at__gte=since
        ).values_list("created_at", flat=True)
    )


def _provider_edit(*, template, changes, actor, source) -> MessageTemplate:
    failure: ProviderError | None = None
    with transaction.atomic():
        template = (
            MessageTemplate.objects.select_for_update()
            .select_related("channel")
            .get(pk=template.pk)
        )
        current = template_definition(template)
        problems = template_edit_problems(
            current=current, changes=_clean({**current, **changes}), status=template.status
        )
        _raise_if(problems)
        definition = _clean({**current, **changes})
        _raise_if(_problems(definition))
        limit = template_edit_limit_problem(
            status=template.status, recent_edits=_recent_edits(template), now=timezone.now()
        )
        if limit:
            raise TemplateInvalid(str(limit.message), details=_errors([limit]))
        if not template.external_id:
            raise InvalidTransition(
                f"Template {template.name} has no provider id yet: sync the templates first."
            )
        category = definition["category"] if definition["category"] != template.category else None
        now = timezone.now()  # before the call: see template_submit
        try:
            result = provider_for_channel(template.channel).template_edit(
                external_id=template.external_id,
                components=_resolved(definition["components"], template.channel),
                category=category,
            )
        except ProviderError as exc:
            failure = exc
        else:
            template.components = definition["components"]
            template.category = (result.category or definition["category"]).upper()
            for key, value in _derived(definition).items():
                setattr(template, key, value)
            template.submitted_at = now
            template.save(
                update_fields=[
                    "components", "category", "parameter_format", "parameters",
                    "opt_out_buttons", "submitted_at", "updated_at",
                ]
            )  # fmt: skip
            previous = template.status
            template_event_record(
                template=template, kind=TemplateEventKind.EDIT_SUBMITTED, source=source,
                actor=actor, status_from=previous, status_to=result.status, at=now,
            )  # fmt: skip
            template_status_set(
                template=template, status=result.status, source=source, actor=actor, at=now,
                reason="edit submitted for review",
            )  # fmt: skip
            audit_record(
                AuditAction.TEMPLATE_SUBMIT, obj=template, actor=actor,
                details={"edit": True, "external_id": template.external_id},
            )  # fmt: skip
            return template
    _failed(template, failure, actor=actor, source=source, what="edit")
    raise AssertionError("unreachable")  # pragma: no cover


def template_submit(
    *, template: MessageTemplate, actor=None, source: str = TemplateEventSource.STAFF
) -> MessageTemplate:
    """Send a DRAFT to the provider for review; it becomes PENDING (Meta's answer arrives by
    the `message_template_status_update` webhook, or the next sync).

    The row is locked for the call, so two clicks never create it twice. A refusal is
    recorded in the history and raised as `TemplateSubmitFailed` with the provider's words;
    a lost answer (the template may exist) queues a sync, which finds it if it does.
    """
    failure: ProviderError | None = None
    with transaction.atomic():
        template = (
            MessageTemplate.objects.select_for_update()
            .select_related("channel")
            .get(pk=template.pk)
        )
        if template.status != TemplateStatus.DRAFT:
            raise InvalidTransition(
                f"Template {template.name} is {template.status}, not a draft: edit it instead."
            )
        definition = template_definition(template)
        _raise_if(_problems(definition))
        # Meta's status events about it are stamped after this moment: taking the time before
        # the call keeps a fast verdict from looking older than the submission.
        now = timezone.now()
        try:
            result = provider_for_channel(template.channel).template_create(
                name=template.name,
                language=template.language,
                category=template.category,
                components=_resolved(template.components, template.channel),
                parameter_format=definition["parameter_format"],
            )
        except ProviderError as exc:
            failure = exc
        else:
            template.external_id = result.external_id
            template.submitted_at = now
            fields = ["external_id", "submitted_at", "updated_at"]
            if result.category and result.category.upper() != template.category:
                template_event_record(
                    template=template, kind=TemplateEventKind.CATEGORY, source=source,
                    reason="Meta chose the category on submission",
                    detail={"previous": template.category, "new": result.category.upper()},
                )  # fmt: skip
                template.category = result.category.upper()
                fields.append("category")
            template.save(update_fields=fields)
            template_event_record(
                template=template, kind=TemplateEventKind.SUBMITTED, source=source, actor=actor,
                status_from=TemplateStatus.DRAFT, status_to=result.status, at=now,
                detail={"external_id": result.external_id},
            )  # fmt: skip
            template_status_set(
                template=template, status=result.status, source=source, actor=actor, at=now,
                reason="submitted for review",
            )  # fmt: skip
            audit_record(
                AuditAction.TEMPLATE_SUBMIT, obj=template, actor=actor,
                details={"external_id": result.external_id, "status": result.status},
            )  # fmt: skip
            return template
    _failed(template, failure, actor=actor, source=source, what="submission")
    raise AssertionError("unreachable")  # pragma: no cover


def _failed(template, failure: ProviderError | None, *, actor, source, what: str) -> None:
    """Record a refused or lost submission or edit, then raise what the caller should say."""
    assert failure is not None
    words = failure.detail or failure.title or failure.message
    template_event_record(
        template=template, kind=TemplateEventKind.SUBMIT_FAILED, source=source, actor=actor,
        reason=f"{what}: {words}"[:500],
        detail={"code": failure.code, "error": type(failure).__name__,
                "http_status": failure.http_status},
    )  # fmt: skip
    logger.warning("template %s %s failed: %s", template.pk, what, failure)
    if isinstance(failure, AmbiguousError):
        transaction.on_commit(templates_sync_enqueue)
        raise TemplateSubmitFailed(
            f"The provider's answer to the {what} was lost; it may have arrived. A template "
            "sync runs now and shows its status.",
            code="provider_answer_lost",
        )
    if isinstance(failure, TemporaryError):
        error = TemplateSubmitFailed(
            f"The provider is not available ({failure.message}); nothing was submitted: try "
            "again shortly.",
            code="provider_unavailable",
        )
        error.status_code = 503
        raise error
    raise TemplateSubmitFailed(
        f"The provider refused the {what}: {words}",
        details={"provider_code": failure.code} if failure.code is not None else None,
    )


def template_delete(
    *, template: MessageTemplate, actor=None, source: str = TemplateEventSource.STAFF
) -> MessageTemplate | None:
    """Delete a template: a DRAFT is removed (Meta never saw it); one the provider knows is
    deleted there (this language only) and kept here as DELETED, so the messages and
    campaigns that used it keep their link. Returns the template, or None when removed."""
    if template.status == TemplateStatus.DRAFT:
        try:
            template.delete()
        except ProtectedError:
            raise Conflict(
                f"Template {template.name} is used by a campaign or content item: remove it "
                "there first."
            ) from None
        return None
    if template.status == TemplateStatus.DELETED:
        raise InvalidTransition(f"Template {template.name} is already deleted.")
    if not template.external_id:
        raise InvalidTransition(
            f"Template {template.name} has no provider id yet: sync the templates first."
        )
    try:
        provider_for_channel(template.channel).template_delete(
            name=template.name, external_id=template.external_id
        )
    except ProviderError as exc:
        _failed(template, exc, actor=actor, source=source, what="deletion")
    template_status_set(
        template=template, status=TemplateStatus.DELETED, source=source, actor=actor,
        reason="deleted from Parley", kind=TemplateEventKind.DELETED,
    )  # fmt: skip
    audit_record(
        AuditAction.TEMPLATE_DELETE, obj=template, actor=actor,
        details={"external_id": template.external_id, "language": template.language},
    )  # fmt: skip
    return template
