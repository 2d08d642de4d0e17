"""Which analytics tables the audit log follows (core.audit), and why.

Recorded, field by field, when staff or an API token write them: `ConversionEvent` (revenue
that integrations report; a forged order is what an audit must show) and `QualityRating`
(agents' ratings).

Not recorded: `ButtonClick` (taps, written by webhooks), the rollups (`DailySnapshot`,
`CampaignPerformance`, `ButtonDaily`, `ContentPerformance`, `CustomerMetrics`,
`RollupDirtyDay`, `RollupState`: recomputed by jobs), and the operations centre's own
records (`HealthSample`, `JobRun` which names who started it, `AppError`).
"""

from __future__ import annotations

from analytics.models import ConversionEvent, QualityRating
from core.audit import audit_register


def audit_register_analytics() -> None:
    audit_register(ConversionEvent)
    audit_register(QualityRating)
