"""Hot reload from a file: poll its identity, re-read only when it changed.

Polling (rather than inotify) also follows Kubernetes' atomic symlink swaps of
mounted ConfigMaps, and costs one stat() per interval.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from .store import ConfigStore

log = logging.getLogger("tokenway.config")


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten (inode, size, mtime); None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class FileConfigSource:
    def __init__(self, path: str | os.PathLike[str], store: ConfigStore, interval: float = 0.5) -> None:
        self.path = Path(path)
        self.store = store
        self.interval = interval
        self._seen: tuple[int, int, int] | None = None

    def load_now(self) -> bool:
        """Initial synchronous load (before the server starts)."""
        self._seen = file_identity(self.path)
        return self.store.apply_text(self.path.read_bytes(), str(self.path))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            seen = file_identity(self.path)
            if seen is None or seen == self._seen:
                continue
            self._seen = seen
            try:
                text = await asyncio.to_thread(self.path.read_bytes)
            except OSError as exc:
                log.error("config file %s unreadable, keeping the last good config: %s", self.path, exc)
                continue
            await self.store.offer(text, str(self.path))
