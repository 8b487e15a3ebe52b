"""Following an operation to its job, then the job until it ends, as the seed document does by hand.

Polling honours `Retry-After` when Azure sends one; otherwise it starts at the poll interval and backs
off (x1.5 per unchanged answer, up to `BACKOFF_LIMIT` times the interval), back to the interval when
something changed. A passing error (429, 5xx, a lost connection, all retried by the client first) is
reported and polled through; a refusal (401, 403, 404) ends the watch. Time is the caller's: `Pace`
sleeps, knows the timeout, and is where a live display ticks while waiting. Nothing is ever written
to Azure: stopping a watch never stops the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..azure.client import ArmClient
from ..azure.errors import ArmError, ArmMalformedResponse, ArmServerError, ArmThrottled, ArmUnreachable
from ..jobs import VaultRef
from .operations import JOB_RESULT, RESULT, OperationRef, OperationStatus, parse_operation_status
from .views import JobView, job_view

BACKOFF = 1.5
BACKOFF_LIMIT = 6.0
REQUEST_SECONDS = 60.0
TRANSIENT = (ArmServerError, ArmThrottled, ArmUnreachable, ArmMalformedResponse)


class WatchTimeout(Exception):
    """`--timeout` passed before the job ended."""


class OperationFailed(Exception):
    """The operation ended without a job: Failed or Canceled, with Azure's error."""

    def __init__(self, status: OperationStatus) -> None:
        detail = ": ".join(part for part in (status.error_code, status.error_message) if part)
        if status.status.lower() == "succeeded":
            text = "the operation succeeded but its status names no job (properties.jobId)"
        else:
            text = f"the operation ended {status.status}" + (f" ({detail})" if detail else "")
        super().__init__(text)
        self.status = status


class Pace:
    """Sleeping between polls, within an optional timeout; `tick` is called about once a second."""

    def __init__(
        self,
        timeout: float | None,
        tick: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._tick = tick
        self.started = monotonic()
        self.ends = None if timeout is None else self.started + timeout

    def request_deadline(self) -> float:
        now = self._monotonic()
        if self.ends is not None and now >= self.ends:
            raise WatchTimeout()
        limit = now + REQUEST_SECONDS
        return limit if self.ends is None else min(limit, self.ends)

    def wait(self, seconds: float) -> None:
        until = self._monotonic() + max(0.0, seconds)
        while True:
            now = self._monotonic()
            if self.ends is not None and now >= self.ends:
                raise WatchTimeout()
            if now >= until:
                return
            end = until if self.ends is None else min(until, self.ends)
            self._sleep(min(1.0, end - now))
            self._tick()


@dataclass
class Backoff:
    interval: float
    current: float = 0.0

    def next(self, changed: bool, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after
        if changed or not self.current:
            self.current = self.interval
        else:
            self.current = min(self.current * BACKOFF, self.interval * BACKOFF_LIMIT)
        return self.current


def follow_operation(
    client: ArmClient,
    ref: OperationRef,
    pace: Pace,
    interval: float,
    on_status: Callable[[OperationStatus], None],
    on_transient: Callable[[ArmError], None],
) -> str:
    """The id of the job the operation started, once its status says Succeeded."""
    if ref.kind == JOB_RESULT and ref.job_id:
        return ref.job_id
    backoff, url, last = Backoff(interval), ref.url, None
    taking_request = ref.kind == RESULT  # operationResults: 202 while Azure takes the request, then 200/204
    while True:
        try:
            reply = client.get_operation(url, pace.request_deadline())
        except TRANSIENT as error:
            on_transient(error)
            pace.wait(backoff.next(False))
            continue
        if taking_request:
            if reply.status != 202:
                # the result carries no job id; the operation's status (its Azure-AsyncOperation, or the
                # vault's backupOperations) does
                taking_request, url = False, ref.status_path()
                continue
            status = OperationStatus("InProgress", None)
        else:
            status = parse_operation_status(reply.body)
        changed, last = status != last, status
        if changed:
            on_status(status)
        if status.running:
            pace.wait(backoff.next(changed, reply.retry_after))
            continue
        if status.status.lower() == "succeeded" and status.job_id:
            return status.job_id
        raise OperationFailed(status)


def watch_job(
    client: ArmClient,
    vault: VaultRef,
    job_id: str,
    pace: Pace,
    interval: float,
    on_view: Callable[[JobView], None],
    on_transient: Callable[[ArmError], None],
) -> JobView:
    """Polls the job until it has ended; each answer goes to `on_view`. Returns the final view."""
    backoff, last = Backoff(interval), None
    while True:
        try:
            view = job_view(client.get_job(vault, job_id, pace.request_deadline()), vault)
        except TRANSIENT as error:
            on_transient(error)
            pace.wait(backoff.next(False))
            continue
        on_view(view)
        if view.finished:
            return view
        state = _progress_key(view)
        changed, last = state != last, state
        pace.wait(backoff.next(changed))


def _progress_key(view: JobView) -> tuple:
    return (
        view.job.status,
        tuple((task.name, task.status, task.progress_percent) for task in view.tasks),
        view.progress_percent,
    )
