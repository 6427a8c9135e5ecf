"""Running a dependency graph: plan, schedule, execute, record.

The same loop drives an in-process serial executor, a process pool, or Dask
distributed (a ``LocalCluster``, or any scheduler address). One module per job:

- :mod:`.plan` — which nodes run and why (rerun by content, not by clock);
- :mod:`.scheduler` — :func:`run_graph`, the ready-set loop and its provenance records;
- :mod:`.executors` — serial, process pool, Dask;
- :mod:`.worker` — one node in its private scratch folder, outputs published only on success;
- :mod:`.folder` — the data folder: checked, locked, listed;
- :mod:`.runlog` — the JSON-lines trail ``asnflow-run.jsonl``;
- :mod:`.outcomes` — node statuses and the run summary.
"""

from asnflow.workflow.dispatch.executors import EXECUTORS, open_executor
from asnflow.workflow.dispatch.folder import SCRATCH_DIR, check_data_folder
from asnflow.workflow.dispatch.outcomes import FAILED, RUN, SKIP, SKIPPED, SUCCEEDED, NodeResult, RunSummary
from asnflow.workflow.dispatch.plan import DEFAULT_OPTIONS, Plan, PlannedNode, plan_run
from asnflow.workflow.dispatch.runlog import RUN_LOG, LoggedStatus, RunLog, read_run_log
from asnflow.workflow.dispatch.scheduler import run_graph
from asnflow.workflow.dispatch.worker import NodeTask, execute_node, scratch_name

__all__ = [
    "DEFAULT_OPTIONS", "EXECUTORS", "FAILED", "RUN", "RUN_LOG", "SCRATCH_DIR", "SKIP", "SKIPPED", "SUCCEEDED",
    "LoggedStatus", "NodeResult", "NodeTask", "Plan", "PlannedNode", "RunLog", "RunSummary",
    "check_data_folder", "execute_node", "open_executor", "plan_run", "read_run_log", "run_graph", "scratch_name",
]
