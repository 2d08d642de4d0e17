"""Seed the ten transactional event types, each mapped to a template by name and language.

Templates arrive by sync, so the mapping is by name and resolved at send time. Staff change
templates, mappings and `enabled` in the admin; re-running this leaves edited rows alone.
"""

from django.db import migrations


def var(variable, **extra):
    return {"source": "variable", "value": variable, **extra}


NAME = {"source": "field", "value": "name", "default": "there"}

TYPES = [
    {
        "code": "order_confirmation",
        "name": "Order confirmation",
        "description": "An order was placed and confirmed.",
        "template_name": "order_confirmation",
        "parameter_mapping": {
            "header": [var("order_id")],
            "body": [NAME, var("order_id"), var("amount"), var("delivery_date")],
            "buttons": {"0": var("tracking_id")},
        },
        "variables": {
            "order_id": "Order number, e.g. #40321",
            "amount": "Order total as shown, e.g. ₹1,499.00",
            "delivery_date": "Expected delivery, e.g. Friday 14 March",
            "tracking_id": "Tracking id appended to the Track order link",
        },
    },
    {
        "code": "delivery_reminder",
        "name": "Delivery reminder",
        "description": "A delivery is coming up.",
        "template_name": "delivery_reminder",
        "parameter_mapping": {
            "body": [NAME, var("order_id"), var("delivery_date"), var("time_slot")],
        },
        "variables": {
            "order_id": "Order number",
            "delivery_date": "When, e.g. tomorrow",
            "time_slot": "Window, e.g. 10am and 1pm",
        },
    },
    {
        "code": "delivery_confirmed",
        "name": "Delivery confirmed",
        "description": "An order was delivered.",
        "template_name": "delivery_confirmed",
        "parameter_mapping": {"body": [NAME, var("order_id"), var("delivered_on")]},
        "variables": {"order_id": "Order number", "delivered_on": "Delivery date"},
    },
    {
        "code": "delivery_delayed",
        "name": "Delivery delayed",
        "description": "A delivery will be late.",
        "template_name": "delivery_delayed",
        "parameter_mapping": {"body": [NAME, var("order_id"), var("new_date")]},
        "variables": {"order_id": "Order number", "new_date": "The new delivery date"},
    },
    {
        "code": "payment_reminder",
        "name": "Payment reminder",
        "description": "A payment is due.",
        "template_name": "payment_reminder",
        "parameter_mapping": {
            "body": [NAME, var("amount"), var("invoice_id"), var("due_date")],
        },
        "variables": {
            "amount": "Amount due, e.g. ₹2,400.00",
            "invoice_id": "Invoice number",
            "due_date": "Due date",
        },
    },
    {
        "code": "payment_confirmation",
        "name": "Payment confirmation",
        "description": "A payment was received.",
        "template_name": "payment_received",
        "parameter_mapping": {
            "body": [
                {**NAME, "name": "customer_name"},
                var("amount", name="amount"),
                var("paid_on", name="paid_on"),
                var("payment_reference", name="reference"),
            ],
        },
        "variables": {
            "amount": "Amount received",
            "paid_on": "Payment date",
            "payment_reference": "The payment's reference",
        },
    },
    {
        "code": "subscription_confirmation",
        "name": "Subscription confirmation",
        "description": "A subscription started.",
        "template_name": "subscription_confirmation",
        "parameter_mapping": {"body": [NAME, var("plan"), var("renews_on")]},
        "variables": {"plan": "Plan name", "renews_on": "Next renewal date"},
    },
    {
        "code": "subscription_paused",
        "name": "Subscription paused",
        "description": "A subscription was paused.",
        "template_name": "subscription_paused",
        "parameter_mapping": {"body": [NAME, var("plan"), var("resume_on")]},
        "variables": {"plan": "Plan name", "resume_on": "When it resumes"},
    },
    {
        "code": "new_product",
        "name": "New product",
        "description": "A new product launched (a marketing template: needs opt-in).",
        "template_name": "new_product",
        "parameter_mapping": {"body": [NAME, var("product_name"), var("product_summary")]},
        "variables": {"product_name": "Product name", "product_summary": "One line about it"},
    },
    {
        "code": "we_miss_you",
        "name": "We miss you",
        "description": "Win back a lapsed customer (a marketing template: needs opt-in).",
        "template_name": "we_miss_you",
        "parameter_mapping": {"body": [NAME, var("discount"), var("coupon_code")]},
        "variables": {"discount": "Discount, e.g. 15%", "coupon_code": "Coupon code"},
    },
]


def create(apps, schema_editor):
    NotificationType = apps.get_model("messaging", "NotificationType")
    for row in TYPES:
        defaults = {key: value for key, value in row.items() if key != "code"}
        NotificationType.objects.get_or_create(
            code=row["code"], defaults={**defaults, "template_language": "en", "enabled": True}
        )


def remove(apps, schema_editor):
    apps.get_model("messaging", "NotificationType").objects.filter(
        code__in=[row["code"] for row in TYPES], notifications__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0009_content_schedules")]

    operations = [migrations.RunPython(create, remove)]
