"""The operator's logging: plain lines, and kopf's retried API errors demoted to warnings.

A fresh API server (or a just-created CRD) answers 429 "storage is (re)initializing"
for a second or two; kopf retries and logs each retry at ERROR. A retry that is going
to happen is not an error: it is logged at WARNING. The last attempt ("escalating")
stays an ERROR.
"""

from __future__ import annotations

import logging

NOISY = ("httpx", "aiohttp.access", "kopf.objects", "kopf.activities")


class RetriedRequestsAreWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and record.name.startswith("kopf.") \
                and "failed; will retry" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RetriedRequestsAreWarnings())
    if level != "debug":
        for noisy in NOISY:
            # One line per handler success is noise at scale; failures are still logged.
            logging.getLogger(noisy).setLevel(logging.WARNING)
