"""Content reads: readiness and figures, with the query budgets their docstrings promise."""

import pytest

from messaging.content.selectors import content_item_list, content_problems, content_stats
from tests.factories import ContentItemFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def test_readiness_of_a_listed_item_reads_nothing(django_assert_num_queries):
    template = TemplateFactory()  # no quick-reply buttons to unlock with
    item = content_item_list().get(pk=ContentItemFactory(template=template, unlock_buttons=[]).pk)
    with django_assert_num_queries(0):
        problems = content_problems(item)
    assert problems == [f"Template {template.name} has no quick-reply buttons to unlock with."]


def test_stats_are_three_queries(django_assert_num_queries):
    item = ContentItemFactory(template=TemplateFactory())
    with django_assert_num_queries(3):
        stats = content_stats(item)
    assert (stats["total"], stats["delivered_rate"], stats["unlocks_by_kind"]) == (0, 0.0, [])
