"""Segment semantics: each part of the filter and each attribute operator, as one query."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import Conflict
from crm.models import Contact
from crm.segment_filters import segment_filter_clean, segment_filter_describe
from crm.selectors import segment_contacts, segment_count, segment_counts, segment_queryset
from crm.services import SegmentInvalid, segment_create, segment_update
from tests.factories import (
    AdvisorFactory,
    ChannelFactory,
    ContactFactory,
    MessageFactory,
    SegmentFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def names(filter_data) -> set[str]:
    segment = SegmentFactory(filter=segment_filter_clean(filter_data))
    return set(segment_queryset(segment).values_list("name", flat=True))


@pytest.fixture
def people(definitions):
    vip, news, churn = (
        TagFactory(name="vip"),
        TagFactory(name="newsletter"),
        TagFactory(name="churn-risk"),
    )
    now = timezone.now()
    a = ContactFactory(name="A", consent="opted_in", last_inbound_at=now - timedelta(days=1),
                       attributes={"city": "Pune", "lifetime_orders": 12, "plan": "pro",
                                   "renews_on": "2026-12-01", "vip": True})  # fmt: skip
    b = ContactFactory(
        name="B", consent="opted_out", last_inbound_at=now - timedelta(days=40),
        attributes={"city": "Navi Mumbai", "lifetime_orders": 3, "plan": "free",
                    "renews_on": "2026-01-15", "vip": False},
    )  # fmt: skip
    c = ContactFactory(name="C", consent="unknown", last_inbound_at=None,
                       attributes={"city": "Mumbai", "lifetime_orders": 5.5})  # fmt: skip
    d = ContactFactory(name="D", consent="opted_in", attributes={})
    a.tags.add(vip, news)
    b.tags.add(news)
    c.tags.add(vip, churn)
    return {"A": a, "B": b, "C": c, "D": d}


def test_empty_filter_matches_everyone(people):
    assert names({}) == {"A", "B", "C", "D"}


def test_tags_any_all_none(people):
    assert names({"tags": {"any": ["vip", "churn-risk"]}}) == {"A", "C"}
    assert names({"tags": {"all": ["vip", "newsletter"]}}) == {"A"}
    assert names({"tags": {"none": ["vip"]}}) == {"B", "D"}
    assert names({"tags": {"any": ["newsletter"], "none": ["vip"]}}) == {"B"}
    assert names({"tags": {"any": ["VIP"]}}) == {"A", "C"}  # names are normalised


def test_consent(people):
    assert names({"consent": ["opted_in"]}) == {"A", "D"}
    assert names({"consent": ["opted_out", "unknown"]}) == {"B", "C"}


def test_attribute_equals_for_each_type(people):
    assert names({"attributes": [{"key": "city", "op": "eq", "value": "Pune"}]}) == {"A"}
    assert names({"attributes": [{"key": "lifetime_orders", "op": "eq", "value": "3"}]}) == {"B"}
    assert names({"attributes": [{"key": "plan", "op": "eq", "value": "PRO"}]}) == {"A"}
    assert names({"attributes": [{"key": "vip", "op": "eq", "value": "yes"}]}) == {"A"}
    assert names({"attributes": [{"key": "vip", "op": "eq", "value": False}]}) == {"B"}
    assert names({"attributes": [{"key": "renews_on", "op": "eq", "value": "2026-01-15"}]}) == {"B"}


def test_attribute_contains(people):
    assert names({"attributes": [{"key": "city", "op": "contains", "value": "mumbai"}]}) == {
        "B", "C",
    }  # fmt: skip


def test_attribute_greater_and_less_than_are_typed(people):
    gt = {"attributes": [{"key": "lifetime_orders", "op": "gt", "value": "5"}]}
    assert names(gt) == {"A", "C"}  # numeric, not text: 12 > 5 and 5.5 > 5
    lt = {"attributes": [{"key": "lifetime_orders", "op": "lt", "value": 10}]}
    assert names(lt) == {"B", "C"}
    after = {"attributes": [{"key": "renews_on", "op": "gt", "value": "2026-06-01"}]}
    assert names(after) == {"A"}
    before = {"attributes": [{"key": "renews_on", "op": "lt", "value": "2026-06-01"}]}
    assert names(before) == {"B"}


def test_activity(people):
    assert names({"active_within_days": 7}) == {"A"}
    assert names({"active_within_days": 60}) == {"A", "B"}


def test_advisors_only_and_their_tier_and_region(people):
    AdvisorFactory(contact=people["A"], tier="gold", region="West")
    AdvisorFactory(contact=people["B"], tier="silver", region="North", is_active=False)
    AdvisorFactory(contact=people["C"], tier="silver", region="North")
    assert names({"advisors_only": True}) == {"A", "C"}
    assert names({"advisor_tiers": ["silver"]}) == {"C"}
    assert names({"advisor_regions": ["West"]}) == {"A"}


def test_channel_via_messages(people):
    main = ChannelFactory()
    other = ChannelFactory(phone_number_id="999", name="Other")
    MessageFactory(contact=people["A"], channel=main)
    MessageFactory(contact=people["A"], channel=main)  # two messages: still one A
    MessageFactory(contact=people["B"], channel=other)
    assert names({"channel": main.pk}) == {"A"}
    segment = SegmentFactory(filter={"channel": main.pk})
    assert list(segment_contacts(segment)) == [people["A"]]


def test_parts_combine_with_and(people):
    f = {"tags": {"any": ["vip"]}, "consent": ["opted_in"], "active_within_days": 7}
    assert names(f) == {"A"}


def test_the_queryset_is_one_query_whatever_the_size(people, django_assert_num_queries):
    AdvisorFactory(contact=people["A"])
    segment = SegmentFactory(
        filter=segment_filter_clean(
            {
                "tags": {"any": ["vip"], "all": ["newsletter"], "none": ["churn-risk"]},
                "consent": ["opted_in"],
                "attributes": [{"key": "lifetime_orders", "op": "gt", "value": 1}],
                "active_within_days": 30,
                "advisors_only": True,
                "channel": ChannelFactory().pk,
            }
        )
    )
    with django_assert_num_queries(1):
        list(segment_contacts(segment))
    with django_assert_num_queries(1):
        segment_count(segment)


def test_many_live_counts_in_one_query(people, django_assert_num_queries):
    segments = [
        SegmentFactory(filter={"consent": ["opted_in"]}),
        SegmentFactory(filter={"tags": {"any": ["vip"]}}),
        SegmentFactory(filter={}),
    ]
    with django_assert_num_queries(1):
        counts = segment_counts(segments)
    assert [counts[s.pk] for s in segments] == [2, 2, 4]


@pytest.mark.parametrize(
    ("data", "part"),
    [
        ({"bogus": 1}, "bogus"),
        ({"tags": {"some": ["x"]}}, "tags"),
        ({"consent": ["maybe"]}, "consent"),
        ({"attributes": [{"key": "nope", "op": "eq", "value": 1}]}, "attributes"),
        ({"attributes": [{"key": "city", "op": "gt", "value": "a"}]}, "attributes"),
        ({"attributes": [{"key": "lifetime_orders", "op": "eq", "value": "many"}]}, "attributes"),
        ({"attributes": [{"key": "renews_on", "op": "lt", "value": "31/12/2026"}]}, "attributes"),
        ({"active_within_days": 0}, "active_within_days"),
        ({"advisor_tiers": ["platinum"]}, "advisor_tiers"),
        ({"channel": "main"}, "channel"),
    ],
)
def test_invalid_filters_are_refused_with_the_part_named(definitions, data, part):
    with pytest.raises(ValidationError) as excinfo:
        segment_filter_clean(data)
    assert part in excinfo.value.message_dict


def test_values_are_stored_typed(definitions):
    clean = segment_filter_clean(
        {
            "attributes": [{"key": "lifetime_orders", "op": "gt", "value": "5"}],
            "active_within_days": "30",
        }
    )
    assert clean == {
        "attributes": [{"key": "lifetime_orders", "op": "gt", "value": 5}],
        "active_within_days": 30,
    }
    assert segment_filter_describe(clean) == [
        "lifetime_orders greater than 5", "Wrote to us in the last 30 days",
    ]  # fmt: skip


def test_segment_services(people, make_user):
    user = make_user("Campaign manager")
    segment = segment_create(name="VIPs", filter={"tags": {"any": ["vip"]}}, actor=user)
    assert segment.created_by == user and segment_count(segment) == 2
    with pytest.raises(Conflict):
        segment_create(name="VIPs", filter={})
    with pytest.raises(SegmentInvalid) as excinfo:
        segment_update(segment=segment, filter={"consent": ["nope"]})
    assert "consent" in excinfo.value.details
    segment_update(segment=segment, filter={"consent": ["opted_in"]}, name="Opted in")
    segment.refresh_from_db()
    assert segment.name == "Opted in" and segment_count(segment) == 2
    assert Contact.objects.count() == 4
