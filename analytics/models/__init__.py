"""Analytics models, one module per area; import them from `analytics.models`."""

from analytics.models.events import (
    AttributionSource,
    ButtonClick,
    ConversionEvent,
    ConversionType,
    QualityRating,
)
from analytics.models.rollups import (
    ButtonDaily,
    CampaignPerformance,
    ChurnRisk,
    ContentPerformance,
    CustomerMetrics,
    CustomerTier,
    DailySnapshot,
    RfmSegment,
    RollupDirtyDay,
    RollupState,
    TemplateDaily,
)
from analytics.ops.models import (
    ACTIVE_JOB_STATES,
    FINISHED_JOB_STATES,
    AppError,
    HealthSample,
    JobRun,
    JobState,
    JobTrigger,
)

__all__ = [
    "ACTIVE_JOB_STATES",
    "FINISHED_JOB_STATES",
    "AppError",
    "AttributionSource",
    "ButtonClick",
    "ButtonDaily",
    "CampaignPerformance",
    "ChurnRisk",
    "ContentPerformance",
    "ConversionEvent",
    "ConversionType",
    "CustomerMetrics",
    "CustomerTier",
    "DailySnapshot",
    "HealthSample",
    "JobRun",
    "JobState",
    "JobTrigger",
    "QualityRating",
    "RfmSegment",
    "RollupDirtyDay",
    "RollupState",
    "TemplateDaily",
]
