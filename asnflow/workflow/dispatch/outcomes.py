"""What a run reports: the status of each node and the summary of the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUCCEEDED = "succeeded"


SKIPPED = "skipped"


FAILED = "failed"


RUN = "run"


SKIP = "skip"


@dataclass(frozen=True)
class NodeResult:
    node_id: str
    status: str  # SUCCEEDED | SKIPPED | FAILED
    reason: str = ""
    duration: float = 0.0
    attempts: int = 0
    detail: str = ""  # the traceback of an unexpected exception
    outputs: tuple[str, ...] = ()  # the files published into the data folder
    references: tuple[tuple[str, str], ...] = ()  # (reftype, file path) the module read


@dataclass(frozen=True)
class RunSummary:
    """The outcome of :func:`run_graph`, one result per node in topological order."""

    run_id: str
    results: tuple[NodeResult, ...]
    log_path: Path | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def succeeded(self) -> int:
        return self.count(SUCCEEDED)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def exit_status(self) -> int:
        """0 when nothing failed, 1 otherwise (the CLI's "ran, but found failures")."""
        return 1 if self.failed else 0

    def line(self) -> str:
        return f"{self.succeeded} succeeded, {self.skipped} skipped, {self.failed} failed"

    def result(self, node_id: str) -> NodeResult:
        for r in self.results:
            if r.node_id == node_id:
                return r
        raise KeyError(node_id)
