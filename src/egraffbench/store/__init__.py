"""Results store: the SQLite database of a run folder and the records jobs hand to it."""

from egraffbench.store.database import DATABASE_FILE, ResultsStore
from egraffbench.store.records import JobRecord, MetricValue, StageRecord

__all__ = ["DATABASE_FILE", "JobRecord", "MetricValue", "ResultsStore", "StageRecord"]
