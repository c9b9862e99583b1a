"""`pm-assistant serve` syncing web guidance on a timer (`PMA_SYNC__INTERVAL_HOURS`; off when 0).

A daemon thread, not a task on the event loop: a sync spends minutes in blocking HTTP and embedding,
and must never hold up answers. It writes through the service's own indexer and store, so the service
sees new chunks on its next question (the generation marker changes), exactly as after an upload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from assistant.config import Settings
from assistant.service import AnswerService

log = logging.getLogger(__name__)


def start_sync_schedule(service: AnswerService, settings: Settings | None = None) -> Callable[[], None]:
    """Start syncing every `interval_hours`; returns `stop`, which waits briefly for a sync in progress.

    The first run is due one interval after the last sync recorded in the index (at once if there was
    none), so a server restarted more often than the interval still syncs, and a restart does not
    fetch everything again. Does nothing (and `stop` is a no-op) when the interval is 0 or unset.
    """
    settings = settings or service.settings
    hours = settings.sync.interval_hours
    if not hours or hours <= 0:
        return lambda: None
    interval = hours * 3600
    stopped = threading.Event()

    def loop() -> None:
        from ingest.web import last_synced, sync_configured

        try:
            last = last_synced(service.indexer())
        except Exception:
            log.exception("web sync: cannot read the last sync time")
            last = None
        wait = 0.0 if last is None else max(0.0, last.timestamp() + interval - time.time())
        while not stopped.wait(wait):
            wait = interval
            try:
                report = sync_configured(settings, service.indexer())
                log.info(
                    "web sync: %d added, %d updated, %d not modified, %d deleted, %d failed",
                    report.added,
                    report.updated,
                    report.not_modified,
                    report.deleted,
                    len(report.failed),
                )
            except Exception:  # a bad sources file or a dead network must not kill the schedule
                log.exception("web sync failed")

    thread = threading.Thread(target=loop, name="pma-web-sync", daemon=True)
    thread.start()

    def stop(timeout_s: float = 10.0) -> None:
        # A sync cut short by process exit is harmless (the indexer is crash-safe); waiting a little
        # lets a short one finish its writes.
        stopped.set()
        thread.join(timeout_s)

    return stop
