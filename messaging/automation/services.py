"""Automated replies to inbound messages, run by the `messaging.autoreply_run` task.

For each inbound message (never inside the webhook request), in this order:

1. the built-in Click-to-Unlock rule: a button payload starting with UNLOCK_CONTENT,
   UNLOCK_IMAGES, UNLOCK_UPDATES, RETRIEVE_CONTENT or SHARE_WITH_CLIENTS is answered by
   `messaging.content.services.content_unlock`, inside the window the tap just opened;
2. the enabled `AutoReplyRule`s by `order`: every rule whose trigger matches acts, until one
   with `stop_processing`;
3. if nothing replied and no matching rule stopped the evaluation, the responders (FAQ, then
   the AI responder when enabled) answer a text question, unless an agent replied to the
   contact in the last AUTOREPLY_AGENT_ACTIVE_MINUTES; while one works out its answer, the
   question is marked read with a typing indicator (queued after commit);
4. the matching `fallback` rules, only if nothing replied so far (an out-of-office note that
   gives way to a real answer).

A tap on a marketing opt-out button (`messaging.sending.selectors.message_opt_out_tap`) was
already recorded as an opt-out by the webhook; automation leaves it alone except for the rules
whose trigger names its payload (button payload, exact or prefix): no Click-to-Unlock, no
keyword, expression or office-hours rule, no responder, no fallback answers it by accident. With
CONSENT_CONFIRMATION_REPLIES on, the webhook's confirmation is its answer, and those rules' own
replies are recorded as skipped.

At most one automated reply goes out per inbound message: each step is recorded once as an
`AutoReplyRun` (unique per message and rule), written in the same transaction as the reply
it sent, and a partial unique index allows a single run with a reply per message. Running the
task again (a redelivered broker message) changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError
from core.queueing import task
from crm.models import Consent, ConsentSource, Contact
from crm.services import consent_set
from messaging.automation.models import (
    AutomatedAnswer,
    AutoReplyAction,
    AutoReplyOutcome,
    AutoReplyRule,
    AutoReplyRun,
    AutoReplyTrigger,
)
from messaging.automation.office_hours import (
    OfficeHoursInvalid,
    office_hours_describe,
    office_hours_local,
    within_office_hours,
)
from messaging.automation.responders import Answer, Responder, responders_active
from messaging.automation.rules import MAX_TEXT, rule_problems, text_normalise, trigger_keywords
from messaging.channels.opt_out import consent_keyword, opt_out_tap_match
from messaging.channels.rendering import template_render
from messaging.content.unlock import content_unlock
from messaging.sending.conversations import (
    conversation_assign,
    conversation_outbound_record,
    read_mark_enqueue_on_commit,
)
from messaging.sending.models import Direction, Message, MessageType
from messaging.sending.selectors import message_conversation, message_opt_out_tap
from messaging.sending.send import SendRefused, message_send, template_content_build

logger = logging.getLogger(__name__)

UNLOCK_PREFIXES = (
    "UNLOCK_CONTENT",
    "UNLOCK_IMAGES",
    "UNLOCK_UPDATES",
    "RETRIEVE_CONTENT",
    "SHARE_WITH_CLIENTS",
)
UNLOCK_KEY = "builtin:unlock"
# Messages automation never answers: not written by the user.
NOT_AUTOMATED = frozenset({MessageType.SYSTEM, MessageType.REACTION})
REPLY_ACTIONS = frozenset(
    {AutoReplyAction.SEND_CONTENT, AutoReplyAction.SEND_TEXT, AutoReplyAction.SEND_TEMPLATE}
)
# The only triggers that act on an opt-out tap: they name the button, so the rule means it.
OPT_OUT_TAP_TRIGGERS = frozenset({AutoReplyTrigger.PAYLOAD, AutoReplyTrigger.PAYLOAD_PREFIX})
OPT_OUT_CONFIRMED = "an opt-out tap is answered by the consent confirmation"
MAX_MATCH_TEXT = 4096  # regexes only ever see this much text


# --- What a rule looks at ---------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """The parts of an inbound message that triggers look at."""

    type: str
    text: str = ""
    payload: str = ""  # a template quick-reply button's payload
    reply_id: str = ""  # an interactive button or list row id
    received_at: datetime = field(default_factory=timezone.now)
    opt_out: bool = False  # a tap on a marketing opt-out button (the webhook opted them out)

    @classmethod
    def from_message(cls, message: Message) -> Inbound:
        content = message.content or {}
        text = payload = reply_id = ""
        if message.type == MessageType.TEXT:
            text = str(content.get("body") or "")
        elif message.type == MessageType.BUTTON_REPLY:
            text = str(content.get("text") or "")
            payload = str(content.get("payload") or content.get("text") or "")
        elif message.type == MessageType.INTERACTIVE_REPLY:
            text = str(content.get("title") or "")
            reply_id = str(content.get("id") or "")
        elif isinstance(content.get("caption"), str):
            text = content["caption"]
        return cls(
            type=message.type,
            text=text,
            payload=payload,
            reply_id=reply_id,
            received_at=message.received_at or message.created_at,
        )


def is_consent_keyword(text: str) -> bool:
    """STOP/START and friends: the webhook already handled them (and may have confirmed)."""
    return consent_keyword(text) is not None


def rule_match(rule: AutoReplyRule, inbound: Inbound) -> str | None:
    """Why `inbound` triggers `rule`, in words for staff ("keyword REFUND is in the text"), or
    None when it does not. Enabled or not: the caller decides.

    The one matching rule: the inbound path (`autoreply_plan`) and the staff page's "try a
    message" box both ask it, so what staff try is what customers get.
    """
    trigger, value = rule.trigger, (rule.trigger_value or "").strip()
    if trigger == AutoReplyTrigger.PAYLOAD:
        if inbound.payload and inbound.payload.strip() == value:
            return f"the button payload is {value}"
        return None
    if trigger == AutoReplyTrigger.PAYLOAD_PREFIX:
        if inbound.payload and value and inbound.payload.strip().startswith(value):
            return f"the button payload starts with {value}"
        return None
    if trigger == AutoReplyTrigger.INTERACTIVE_ID:
        if inbound.reply_id and inbound.reply_id.strip() == value:
            return f"the reply id is {value}"
        return None
    if trigger == AutoReplyTrigger.KEYWORD:
        text = f" {re.sub(r'[^0-9A-Z]+', ' ', text_normalise(inbound.text))} "
        for keyword in trigger_keywords(value):
            phrase = re.sub(r"[^0-9A-Z]+", " ", keyword).strip()
            if phrase and f" {phrase} " in text:
                return f"the keyword {keyword} is in the text"
        return None
    if trigger == AutoReplyTrigger.REGEX:
        if not inbound.text or not value:
            return None
        try:
            found = re.search(value, inbound.text[:MAX_MATCH_TEXT], re.IGNORECASE)
        except re.error:
            return None
        return f"the expression matched {found.group(0)[:60]!r}" if found is not None else None
    if trigger == AutoReplyTrigger.OUTSIDE_OFFICE_HOURS:
        try:
            inside = within_office_hours(inbound.received_at)
        except OfficeHoursInvalid as exc:
            logger.warning("OFFICE_HOURS cannot be read: %s", exc)
            return None
        if inside:
            return None
        local = office_hours_local(inbound.received_at)
        return f"{local:%a %H:%M} is outside office hours: {office_hours_describe()}"
    return None


def rule_matches(rule: AutoReplyRule, inbound: Inbound) -> bool:
    """Does `inbound` trigger `rule`? (`rule_match` without the why.)"""
    return rule_match(rule, inbound) is not None


def is_unlock_payload(payload: str) -> bool:
    return bool(payload) and payload.strip().upper().startswith(UNLOCK_PREFIXES)


# --- The plan ---------------------------------------------------------------------------------


@dataclass
class Step:
    """One thing automation would do for a message."""

    key: str
    label: str
    rule: AutoReplyRule | None = None
    replies: bool = False
    responder: Responder | None = None
    answer: Answer | None = None
    fallback: bool = False  # only if nothing replied before it
    why: str = ""  # why it applies, in words for staff (`rule_match`)


def autoreply_plan(
    *, inbound: Inbound, rules: list[AutoReplyRule] | None = None, responders: bool = True
) -> list[Step]:
    """The steps automation takes for `inbound`, in order (responders not yet asked)."""
    if inbound.type in NOT_AUTOMATED:
        return []
    if rules is None:
        rules = list(
            AutoReplyRule.objects.filter(enabled=True)
            .select_related("template", "assign_to", "tag")
            .order_by("order", "id")
        )
    if inbound.opt_out:
        rules = [r for r in rules if r.trigger in OPT_OUT_TAP_TRIGGERS]
    steps: list[Step] = []
    if is_unlock_payload(inbound.payload) and not inbound.opt_out:
        why = f"the button payload {inbound.payload.strip()} unlocks content"
        steps.append(Step(UNLOCK_KEY, "Click-to-Unlock (built-in)", replies=True, why=why))
    stopped = _rule_steps(steps, [r for r in rules if not r.fallback], inbound)
    if (
        responders
        and not stopped
        and not any(s.replies for s in steps)
        and inbound.type == MessageType.TEXT
        and inbound.text.strip()
        and not is_consent_keyword(inbound.text)
    ):
        for responder in responders_active():
            steps.append(
                Step(f"responder:{responder.name}", f"{responder.name.upper()} responder",
                     replies=True, responder=responder)
            )  # fmt: skip
    if not stopped:
        _rule_steps(steps, [r for r in rules if r.fallback], inbound, fallback=True)
    return steps


def _rule_steps(steps: list[Step], rules, inbound: Inbound, *, fallback: bool = False) -> bool:
    """Append the matching rules' steps; True when one of them stops the evaluation."""
    for rule in rules:
        why = rule_match(rule, inbound) if rule.enabled else None
        if why is None:
            continue
        replies = rule.action in REPLY_ACTIONS
        steps.append(Step(f"rule:{rule.pk}", rule.name, rule=rule, replies=replies,
                          fallback=fallback, why=why))  # fmt: skip
        if rule.stop_processing:
            return True
    return False


# --- Running it -------------------------------------------------------------------------------


def _agent_recently_replied(message: Message) -> bool:
    minutes = settings.AUTOREPLY_AGENT_ACTIVE_MINUTES
    if minutes <= 0:
        return False
    # A person's reply: not automated, sent by a user, not a campaign nor a template (API
    # integrations send their notifications as templates under their token's user).
    return (
        Message.objects.filter(
            contact_id=message.contact_id,
            direction=Direction.OUTBOUND,
            is_automated=False,
            sent_by__isnull=False,
            campaign__isnull=True,
            created_at__gte=timezone.now() - timedelta(minutes=minutes),
        )
        .exclude(type=MessageType.TEMPLATE)
        .exists()
    )


def _in_cooldown(rule: AutoReplyRule, message: Message) -> bool:
    if not rule.cooldown_minutes:
        return False
    since = timezone.now() - timedelta(minutes=rule.cooldown_minutes)
    return (
        AutoReplyRun.objects.filter(
            rule=rule,
            message__contact_id=message.contact_id,
            outcome__in=[AutoReplyOutcome.SENT, AutoReplyOutcome.ACTED],
            created_at__gte=since,
        )
        .exclude(message=message)
        .exists()
    )


def _send(message: Message, type_: str, content: dict[str, Any]) -> Message:
    """An automated reply, quoting the question (WhatsApp shows no quote on templates)."""
    quote = (message.wamid or "") if type_ != "template" else ""
    return message_send(
        channel=message.channel,
        contact=message.contact,
        type=type_,
        content=content,
        context_wamid=quote,
        is_automated=True,
    )


def _content_unlock(payload: str, message: Message) -> Message | None:
    return content_unlock(
        payload=payload, contact=message.contact, context_wamid=message.context_wamid or None
    )


def _reply_for(step: Step, message: Message, inbound: Inbound):
    """(reply message or None, automated answer fields or None). May raise SendRefused."""
    if step.key == UNLOCK_KEY:
        return _content_unlock(inbound.payload.strip(), message), None
    if step.responder is not None:
        answer = step.answer
        if answer is None:
            return None, None
        reply = _send(message, "text", {"body": answer.text[:MAX_TEXT]})
        return reply, {
            "responder": step.responder.name,
            "topic": answer.topic[:64],
            "confidence": answer.confidence,
        }
    rule = step.rule
    answer_fields = {"responder": "rule", "topic": rule.name[:64], "confidence": 1.0}
    if rule.action == AutoReplyAction.SEND_TEXT:
        return _send(message, "text", {"body": rule.text[:MAX_TEXT]}), answer_fields
    if rule.action == AutoReplyAction.SEND_TEMPLATE:
        if rule.template is None:
            raise SendRefused("The rule has no template.", code="template_unknown")
        values = rule.template_parameters or {}
        content = template_content_build(
            template=rule.template, body=values.get("body") or None,
            header=values.get("header") or None,
            header_media_link=values.get("header_media_link") or None,
        )  # fmt: skip
        return _send(message, "template", content), answer_fields
    if rule.action == AutoReplyAction.SEND_CONTENT:
        return _content_unlock(rule.content_payload.strip(), message), None
    raise AssertionError(f"not a reply action: {rule.action}")


def _act(rule: AutoReplyRule, message: Message) -> str:
    """Do a rule's non-reply action; the detail to record."""
    contact = message.contact
    note = f"auto-reply rule {rule.name!r} on message {message.wamid or message.pk}"
    if rule.action in (AutoReplyAction.OPT_OUT, AutoReplyAction.OPT_IN):
        consent = Consent.OPTED_OUT if rule.action == AutoReplyAction.OPT_OUT else Consent.OPTED_IN
        event = consent_set(
            contact=contact, consent=consent, source=ConsentSource.KEYWORD, note=note
        )
        return f"consent {consent}" if event else f"consent already {consent}"
    if rule.action == AutoReplyAction.ASSIGN:
        conversation = message.conversation
        if conversation is None or rule.assign_to is None:
            return "no conversation or user to assign"
        if conversation.assignee_id:
            return "already assigned"
        conversation_assign(conversation=conversation, assignee=rule.assign_to, actor=None)
        return f"assigned to {rule.assign_to.get_username()}"
    if rule.action == AutoReplyAction.ADD_TAG:
        if rule.tag is None:
            return "no tag"
        contact.tags.add(rule.tag)
        return f"tagged {rule.tag.name}"
    raise AssertionError(f"not an action: {rule.action}")


def _record(message: Message, step: Step, outcome: str, detail: str = "", reply=None):
    with transaction.atomic():
        return AutoReplyRun.objects.create(
            message=message, rule=step.rule, rule_key=step.key, outcome=outcome,
            detail=detail[:300], reply=reply,
        )  # fmt: skip


def _run_step(step: Step, message: Message, inbound: Inbound, replied: bool) -> AutoReplyRun:
    if step.fallback and replied:
        return _record(message, step, AutoReplyOutcome.SKIPPED, "answered already")
    if step.rule is not None and _in_cooldown(step.rule, message):
        return _record(message, step, AutoReplyOutcome.SKIPPED, "in cooldown for this contact")
    if not step.replies:
        with transaction.atomic():
            detail = _act(step.rule, message)
            return _record(message, step, AutoReplyOutcome.ACTED, detail)
    if inbound.opt_out and settings.CONSENT_CONFIRMATION_REPLIES:
        return _record(message, step, AutoReplyOutcome.SKIPPED, OPT_OUT_CONFIRMED)
    if replied:
        return _record(message, step, AutoReplyOutcome.SKIPPED, "this message already has a reply")
    if step.responder is not None:
        if _agent_recently_replied(message):
            return _record(message, step, AutoReplyOutcome.SKIPPED, "an agent is on it")
        _typing_show_on_commit(message)
        step.answer = step.responder.answer(inbound.text, message.contact)  # outside any lock
    with transaction.atomic():
        try:
            with transaction.atomic():
                reply, answer_fields = _reply_for(step, message, inbound)
        except SendRefused as exc:
            return _record(message, step, AutoReplyOutcome.REFUSED, f"{exc.code}: {exc.message}")
        if reply is None:
            return _record(message, step, AutoReplyOutcome.NO_ANSWER, "nothing to send")
        run = _record(message, step, AutoReplyOutcome.SENT, reply.type, reply=reply)
        if answer_fields is not None:
            AutomatedAnswer.objects.get_or_create(
                message=reply, defaults={"question": message, **answer_fields}
            )
        conversation = message_conversation(message)
        if conversation is not None:
            conversation_outbound_record(conversation=conversation, message=reply, automated=True)
        return run


def _typing_show_on_commit(message: Message) -> None:
    """Mark the question read with a typing indicator while a responder (the AI may take
    seconds) prepares the answer. Queued for a worker, so neither this task nor the webhook
    that brought the question waits on the provider; WhatsApp drops the indicator at our
    answer or after 25 seconds, whichever comes first (no answer lets it time out)."""
    if message.wamid:
        read_mark_enqueue_on_commit(channel_id=message.channel_id, wamid=message.wamid, typing=True)


def autoreply_process(*, message_id: int) -> list[AutoReplyRun]:
    """Run automation for one inbound message (idempotent). Returns the runs made now."""
    message = (
        Message.objects.select_related("contact", "channel", "conversation")
        .filter(pk=message_id, direction=Direction.INBOUND)
        .first()
    )
    if message is None or message.type in NOT_AUTOMATED or message.contact.blocked:
        return []
    inbound = Inbound.from_message(message)
    if message.type == MessageType.BUTTON_REPLY and message_opt_out_tap(message) is not None:
        inbound = replace(inbound, opt_out=True)
    steps = autoreply_plan(inbound=inbound)
    if not steps:
        return []
    done = dict(AutoReplyRun.objects.filter(message=message).values_list("rule_key", "reply_id"))
    replied = any(reply_id for reply_id in done.values())
    runs = []
    for step in steps:
        if step.key in done:
            continue
        try:
            run = _run_step(step, message, inbound, replied)
        except IntegrityError:
            # The same step (or another reply) was recorded concurrently: its work stands.
            logger.info("auto-reply %s for message %s already recorded", step.key, message.pk)
            replied = (
                replied
                or AutoReplyRun.objects.filter(message=message, reply__isnull=False).exists()
            )
            continue
        except DatabaseError:
            raise  # the task retries
        except Exception as exc:  # one broken rule must not stop the others
            logger.exception("auto-reply %s for message %s failed", step.key, message.pk)
            detail = exc.message if isinstance(exc, DomainError) else type(exc).__name__
            run = _record(message, step, AutoReplyOutcome.ERROR, detail)
        runs.append(run)
        replied = replied or run.reply_id is not None
    return runs


def autoreply_enqueue(message_id: int) -> None:
    try:
        task("messaging.autoreply_run").delay(message_id)
    except Exception:
        logger.warning("could not enqueue the auto-reply of message %s", message_id)


# --- Rules ------------------------------------------------------------------------------------


def autoreply_rules_enable(*, rule_ids: Iterable[int]) -> tuple[int, dict[str, dict[str, str]]]:
    """Enable the rules that can run (`rule_problems` finds nothing); the others stay as they
    were. Returns how many were enabled and the problems of the others, by rule name.

    A rule saved valid may have gone wrong since (its template paused, OFFICE_HOURS edited),
    and enabling it in bulk would bypass `AutoReplyRule.clean()`.
    """
    ready: list[int] = []
    problems: dict[str, dict[str, str]] = {}
    for rule in AutoReplyRule.objects.filter(pk__in=list(rule_ids)).select_related("template"):
        found = rule_problems(rule)
        if found:
            problems[rule.name] = found
        else:
            ready.append(rule.pk)
    enabled = AutoReplyRule.objects.filter(pk__in=ready).update(enabled=True) if ready else 0
    return enabled, problems


def autoreply_rule_enable(*, rule: AutoReplyRule) -> dict[str, str]:
    """Enable `rule` when it can run; otherwise leave it off and return its problems by
    field. Saved through the model (not a bulk update), so the audit log records who."""
    problems = rule_problems(rule)
    if not problems and not rule.enabled:
        rule.enabled = True
        rule.save(update_fields=["enabled", "updated_at"])
    return problems


def autoreply_rule_disable(*, rule: AutoReplyRule) -> None:
    """Stop `rule` from firing (kept, with its history of runs)."""
    if rule.enabled:
        rule.enabled = False
        rule.save(update_fields=["enabled", "updated_at"])


# --- Preview ("try a message": the staff page and the admin's test view) ----------------------


@dataclass
class PreviewStep:
    label: str
    action: str
    would_send: str = ""
    note: str = ""
    why: str = ""
    rule: AutoReplyRule | None = None


def inbound_sample(
    *, text: str = "", payload: str = "", reply_id: str = "", kind: str = "text", at=None
) -> Inbound:
    """The `Inbound` a customer's message of `kind` (text, button, interactive) would be, as
    the webhook would record it: a tap on a marketing opt-out button is marked as one."""
    message_type = {
        "button": MessageType.BUTTON_REPLY, "interactive": MessageType.INTERACTIVE_REPLY
    }.get(kind, MessageType.TEXT)  # fmt: skip
    opt_out = message_type == MessageType.BUTTON_REPLY and (
        opt_out_tap_match(payload=payload or "", text=text or "") is not None
    )
    return Inbound(
        type=message_type,
        text=text or "",
        payload=payload or "",
        reply_id=reply_id or "",
        received_at=at or timezone.now(),
        opt_out=opt_out,
    )


def autoreply_preview(
    *, text: str = "", payload: str = "", reply_id: str = "", kind: str = "text", at=None,
    contact: Contact | None = None,
) -> list[PreviewStep]:  # fmt: skip
    """What automation would do for a sample inbound message; sends nothing, writes nothing.

    The same plan the inbound path runs (`autoreply_plan`, `rule_match`), over the enabled
    rules; cooldowns and "an agent is on it" are not applied (they depend on history)."""
    inbound = inbound_sample(text=text, payload=payload, reply_id=reply_id, kind=kind, at=at)
    opt_out = inbound.opt_out
    preview: list[PreviewStep] = []
    if opt_out:
        preview.append(PreviewStep(
            "Marketing opt-out button (built-in)", "Opt out of marketing",
            note="recorded by the webhook; only rules naming this payload act on the tap",
            why="the button is a template's marketing opt-out button",
        ))  # fmt: skip
    replied = False
    for step in autoreply_plan(inbound=inbound):
        if step.key == UNLOCK_KEY:
            item = PreviewStep(step.label, "Click-to-Unlock", f"the content for {inbound.payload}")
        elif step.responder is not None:
            answer = step.responder.answer(inbound.text, contact)
            if answer is None:
                item = PreviewStep(step.label, "answer", note="no answer: left for an agent")
            else:
                item = PreviewStep(
                    step.label, "answer", answer.text,
                    f"topic {answer.topic}, confidence {answer.confidence:.2f}",
                )  # fmt: skip
            item.why = "no rule answered this text"
        else:
            item = PreviewStep(
                step.label, step.rule.get_action_display(), _describe(step.rule), rule=step.rule
            )
        item.why = step.why or item.why
        if step.fallback and replied:
            item.note = "skipped: answered already (fallback rule)"
            item.would_send = ""
        elif opt_out and step.replies and settings.CONSENT_CONFIRMATION_REPLIES:
            item.note = f"skipped: {OPT_OUT_CONFIRMED}"
            item.would_send = ""
        elif step.replies and item.would_send:
            if replied:
                item.note = "skipped: this message already has a reply"
                item.would_send = ""
            replied = True
        preview.append(item)
    return preview


def autoreply_disabled_matches(
    *, text: str = "", payload: str = "", reply_id: str = "", kind: str = "text", at=None
) -> list[tuple[AutoReplyRule, str]]:
    """The disabled rules a sample message would trigger, with why: what trying a message
    shows under "would also match if enabled". One query."""
    inbound = inbound_sample(text=text, payload=payload, reply_id=reply_id, kind=kind, at=at)
    found = []
    for rule in AutoReplyRule.objects.filter(enabled=False).order_by("order", "id"):
        if inbound.opt_out and rule.trigger not in OPT_OUT_TAP_TRIGGERS:
            continue  # as `autoreply_plan`: only rules naming the tap's payload act on it
        why = rule_match(rule, inbound)
        if why is not None:
            found.append((rule, why))
    return found


def _describe(rule: AutoReplyRule) -> str:
    if rule.action == AutoReplyAction.SEND_TEXT:
        return rule.text
    if rule.action == AutoReplyAction.SEND_TEMPLATE and rule.template is not None:
        values = rule.template_parameters or {}
        content = template_content_build(
            template=rule.template, body=values.get("body") or None,
            header=values.get("header") or None,
        )  # fmt: skip
        rendered = template_render(rule.template, content)
        return f"template {rule.template.name}: {rendered.text}"
    if rule.action == AutoReplyAction.SEND_CONTENT:
        return f"the content for {rule.content_payload}"
    if rule.action == AutoReplyAction.ASSIGN and rule.assign_to is not None:
        return f"(assigns to {rule.assign_to.get_username()})"
    if rule.action == AutoReplyAction.ADD_TAG and rule.tag is not None:
        return f"(adds tag {rule.tag.name})"
    return f"({rule.get_action_display().lower()})"
