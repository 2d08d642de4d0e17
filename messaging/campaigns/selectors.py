def campaign_list():
    from messaging.models import Campaign

    return (
        Campaign.objects.select_related("channel", "template", "segment")
        .prefetch_related("tags")
        .order_by("-created_at")
    )
