"""The run log: one JSON line per finished node in ``DATA/asnflow-run.jsonl``, a human-readable trail.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from asnflow.calib.base import Node
from asnflow.workflow.dispatch.outcomes import NodeResult

RUN_LOG = "asnflow-run.jsonl"


class RunLog:
    """``DATA/asnflow-run.jsonl``: one JSON object per finished node, appended."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._handle: TextIO | None = None

    def write(self, node: Node, result: NodeResult, *, retrying: bool = False) -> None:
        record = {
            "run": self.run_id,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "node": node.node_id,
            "kind": node.kind,
            "asn_type": node.asn_type,
            "status": "retrying" if retrying else result.status,
            "duration": round(result.duration, 3),
            "attempts": result.attempts,
            "reason": result.reason,
        }
        if result.detail:
            record["traceback"] = result.detail
        if self._handle is None:
            # O_NOFOLLOW: a link planted in the log's place is refused, not appended through.
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            self._handle = os.fdopen(os.open(self.path, flags, 0o666), "a", encoding="utf-8")
        # One write per line, flushed: a killed run loses at most the line being written.
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass(frozen=True)
class LoggedStatus:
    status: str
    reason: str
    run: str
    time: str


def read_run_log(data_dir: str | os.PathLike[str]) -> dict[str, LoggedStatus]:
    """The last recorded status of every node in ``DATA/asnflow-run.jsonl`` (empty if none).

    Lines that do not parse (the tail of a killed run) are ignored.
    """
    path = Path(data_dir) / RUN_LOG
    statuses: dict[str, LoggedStatus] = {}
    try:
        handle = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK),
                           encoding="utf-8", errors="replace")
    except OSError:  # none yet, or not asnflow's (a link, a FIFO): no statuses to show
        return statuses
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        return statuses
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict) or "node" not in record or record.get("status") == "retrying":
                continue
            statuses[str(record["node"])] = LoggedStatus(
                str(record.get("status", "")),
                str(record.get("reason", "")),
                str(record.get("run", "")),
                str(record.get("time", "")),
            )
    return statuses
