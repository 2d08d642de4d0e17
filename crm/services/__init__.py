"""Write paths over crm. Callers import from here (`from crm.services import consent_set`)."""

from crm.services.advisors import (
    AdvisorInvalid,
    advisor_create,
    advisor_disable,
    advisor_enable,
    advisor_update,
    content_preferences_clean,
)
from crm.services.attributes import AttributeInvalid, attribute_definitions, attributes_clean
from crm.services.contacts import (
    InvalidPhone,
    consent_parse,
    consent_set,
    contact_block,
    contact_create,
    contact_erased_opt_out_apply,
    contact_identity_record,
    contact_update,
    language_clean,
    phone_normalize,
    tag_names_clean,
    tags_get_or_create,
)
from crm.services.erasure import contact_delete, contact_erase
from crm.services.merge import contact_merge
from crm.services.numbers import contact_number_change
from crm.services.segments import SegmentInvalid, segment_create, segment_update
from crm.services.staff import staff_phone_set

__all__ = [
    "AdvisorInvalid",
    "AttributeInvalid",
    "InvalidPhone",
    "SegmentInvalid",
    "advisor_create",
    "advisor_disable",
    "advisor_enable",
    "advisor_update",
    "attribute_definitions",
    "attributes_clean",
    "consent_parse",
    "consent_set",
    "contact_block",
    "contact_create",
    "contact_delete",
    "contact_erase",
    "contact_erased_opt_out_apply",
    "contact_identity_record",
    "contact_merge",
    "contact_number_change",
    "contact_update",
    "content_preferences_clean",
    "language_clean",
    "phone_normalize",
    "segment_create",
    "segment_update",
    "staff_phone_set",
    "tag_names_clean",
    "tags_get_or_create",
]
