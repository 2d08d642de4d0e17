"""The error-code table: one entry per code, and the fold of the old tables, pinned.

OLD was computed from the tables this one replaced, before they were deleted: the sender's
`classify` (TEMPORARY_CODES, AUTH_CODES, RETRY_AFTER_HINTS in meta_cloud/errors.py), the
failed-status re-queue set (RETRYABLE_CODES in sending/statuses.py), the campaign quality
codes (messaging/error_codes.py), the bulk-retry exclusions (analytics/ops/retry.py), the
contact side effects (sending/failures.py), and whether either description table
(messaging/error_codes.py, analytics/ops/error_codes.py) described the code. Every code any
of them (or the simulator) listed is here, plus two nobody knew.
"""

from __future__ import annotations

import pytest

from messaging.providers.error_codes import (
    ERROR_CODES,
    QUALITY_CODES,
    RECIPIENT_REFUSES_CODES,
    ErrorKind,
    error_code_info,
    error_code_meaning,
)
from messaging.providers.meta_cloud.errors import classify

# code: (send answered with HTTP 400, 429, 500 -> error class; retry-after hint at 400;
#        re-queued by a failed status; pauses a campaign; never re-sent by a bulk retry;
#        marks the contact undeliverable; records a marketing opt-out; described)
OLD = {
    0: ("auth", "auth", "auth", None, False, False, False, False, False, True),
    1: ("temp", "temp", "temp", None, False, False, False, False, False, False),
    2: ("temp", "temp", "temp", None, False, False, False, False, False, False),
    3: ("auth", "auth", "auth", None, False, False, False, False, False, True),
    4: ("temp", "temp", "temp", 60.0, False, False, False, False, False, True),
    10: ("auth", "auth", "auth", None, False, False, False, False, False, True),
    17: ("temp", "temp", "temp", 60.0, False, False, False, False, False, False),
    42: ("perm", "temp", "temp", None, False, False, False, False, False, False),
    100: ("perm", "temp", "temp", None, False, False, False, False, False, False),
    190: ("auth", "auth", "auth", None, False, False, False, False, False, True),
    341: ("temp", "temp", "temp", None, False, False, False, False, False, False),
    368: ("perm", "temp", "temp", None, False, True, False, False, False, True),
    613: ("temp", "temp", "temp", 60.0, False, False, False, False, False, False),
    80007: ("temp", "temp", "temp", 60.0, False, False, False, False, False, True),
    130429: ("temp", "temp", "temp", 1.0, True, False, False, False, False, True),
    130472: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131000: ("temp", "temp", "temp", None, True, False, False, False, False, True),
    131005: ("auth", "auth", "auth", None, False, False, False, False, False, True),
    131008: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131009: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131016: ("temp", "temp", "temp", None, True, False, False, False, False, True),
    131021: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131026: ("perm", "temp", "temp", None, False, False, True, True, False, True),
    131030: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131031: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131042: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131047: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131048: ("perm", "temp", "temp", None, False, True, False, False, False, True),
    131049: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131050: ("perm", "temp", "temp", None, False, False, True, False, True, True),
    131051: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131052: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    131053: ("temp", "temp", "temp", None, True, False, False, False, False, True),
    131056: ("temp", "temp", "temp", 6.0, True, False, False, False, False, True),
    131057: ("temp", "temp", "temp", 60.0, True, False, False, False, False, True),
    131064: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    132000: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    132001: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    132005: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    132007: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    132008: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    132012: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    132015: ("perm", "temp", "temp", None, False, True, False, False, False, True),
    132016: ("perm", "temp", "temp", None, False, True, False, False, False, True),
    133016: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    135000: ("perm", "temp", "temp", None, False, False, False, False, False, True),
    999999: ("perm", "temp", "temp", None, False, False, False, False, False, False),
}
PERMISSION = ("auth", "auth", "auth", None, False, False, False, False, False, True)
OLD.update(dict.fromkeys(range(200, 300), PERMISSION))

CLASS_NAMES = {"TemporaryError": "temp", "PermanentError": "perm", "AuthError": "auth"}


def now(code: int) -> tuple:
    def sent(status: int):
        return classify(code=code, http_status=status, message="m")

    info = error_code_info(code)
    return (
        *(CLASS_NAMES[type(sent(status)).__name__] for status in (400, 429, 500)),
        getattr(sent(400), "retry_after", None),
        info.retry_when_reported,
        code in QUALITY_CODES,
        code in RECIPIENT_REFUSES_CODES,
        info.marks_undeliverable,
        info.stops_marketing,
        info.known,
    )


@pytest.mark.parametrize("code", sorted(OLD))
def test_the_fold_keeps_every_old_classification(code):
    old, new = OLD[code], now(code)
    assert new[:9] == old[:9]
    assert new[9] or not old[9], "a code the old tables described lost its description"


def test_every_code_of_the_table_is_pinned():
    assert set(ERROR_CODES) <= set(OLD)


def test_the_sets_and_flags_agree_with_the_entries():
    assert {c for c, e in ERROR_CODES.items() if e.kind is ErrorKind.QUALITY} == QUALITY_CODES
    assert {131048, 132015, 132016, 368} == QUALITY_CODES
    assert {131026, 131050} == RECIPIENT_REFUSES_CODES
    for code, entry in ERROR_CODES.items():
        assert entry.code == code and entry.known
        assert entry.title and entry.meaning and entry.action
        assert error_code_info(code).retryable is (entry.kind is ErrorKind.TEMPORARY)
        assert error_code_info(code).retry_when_reported is entry.retry_when_reported
        # Re-queueing a failed status is only for codes a send would retry as well.
        assert not entry.retry_when_reported or entry.retryable
        assert not entry.retry_after or entry.retryable


def test_consumers_read_the_table():
    from analytics.ops.retry import NEVER_RETRY_CODES

    assert NEVER_RETRY_CODES is RECIPIENT_REFUSES_CODES


def test_unknown_and_missing_codes_get_default_entries():
    unknown = error_code_info(42)
    assert (unknown.code, unknown.known, unknown.kind) == (42, False, ErrorKind.PERMANENT)
    assert unknown.meaning == "WhatsApp error 42" and "429" in unknown.action
    assert not (unknown.retryable or unknown.pauses_campaign or unknown.recipient_refuses)
    missing = error_code_info(None)
    assert missing.meaning == "No error code (refused or cancelled by Parley)"
    assert not missing.known
    assert error_code_info("abc") is missing
    assert error_code_meaning(None) == error_code_meaning(42) == ""


def test_codes_are_found_by_their_digits_too():
    assert error_code_info("131026") is ERROR_CODES[131026]
    assert error_code_info(131026).meaning.startswith("Undeliverable")
    assert error_code_meaning(131026).startswith("Message undeliverable: ")
    permission = error_code_info(250)
    assert permission.kind is ErrorKind.AUTH and permission.title == "Permission missing"
