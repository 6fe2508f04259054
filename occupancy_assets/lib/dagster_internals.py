"""The only module that imports Dagster's private `dagster._core`: each name below has no public
equivalent in the pinned dagster (1.13), and keeping them here means an upgrade that moves one
breaks one import, in one place.
"""

# The run tags Dagster itself writes on a partitioned run (one partition, or a range in one run):
# the CLI and the sensor read them to know which dates a run covered.
# Marking a run whose process died as failed, with the reason the UI shows for it.
from dagster._core.events import JobFailureData, RunFailureReason  # noqa: F401,E402

# The status of an asset check's latest execution (status reads it from the instance).
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus  # noqa: F401,E402
from dagster._core.storage.tags import (  # noqa: F401
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

#: how Dagster prefixes the message of a `Failure` raised in an op, stripped before showing it
FAILURE_PREFIX = "dagster._core.definitions.events.Failure: "

# SIGTERM handled like SIGINT (Ctrl-C): what `dagster` CLI processes do, so a terminated
# `occupancy-kpi` run is interrupted step by step and cleans up instead of dying mid-write.
from dagster._utils.interrupts import setup_interrupt_handlers  # noqa: F401,E402
