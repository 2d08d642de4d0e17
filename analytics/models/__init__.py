"""Analytics models, one module per area; import them from `analytics.models`."""

from analytics.models.operations import (
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
    "HealthSample",
    "JobRun",
    "JobState",
    "JobTrigger",
]
