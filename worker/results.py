"""What a runner hands back, and the two ways a job can go wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from jobkinds import TINY, JobKind


@dataclass(frozen=True)
class RunResult:
    """A valid output plus the usage the backend records for the submission."""

    output: dict[str, Any]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class JobFailedError(Exception):
    """The job itself could not be done (bad payload, model output never valid)."""


class RunnerUnavailableError(Exception):
    """The local model could not be used; the job is given back, as it is not at fault."""


class JobRunner(Protocol):
    """Runs jobs of one runner type (``JobKind.runner``), each under the output contract its
    lease names (``jobkinds.CONTRACTS``)."""

    async def run(
        self, kind: JobKind, payload: dict[str, Any], contract: str = TINY
    ) -> RunResult: ...

    async def aclose(self) -> None: ...
