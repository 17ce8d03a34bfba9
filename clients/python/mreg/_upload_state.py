"""The parts of a multipart upload already sent, saved as each lands (the Node client's format,
clients/node/src/upload-state.ts): ``<cache>/uploads/<sha256(uploadId)>.json`` holding
``{sha256, uploadId, partSize, parts: {partNumber: etag}}``. A re-run handed the same uploadId
by the registry sends only the missing parts, whichever client started it.
"""

import hashlib
import json
import os
import threading
import uuid
from typing import Dict


class UploadState:
    def __init__(self, directory: str):
        self.dir = directory
        self._lock = threading.Lock()
        self._states: Dict[str, dict] = {}

    def _file(self, upload_id: str) -> str:
        return os.path.join(self.dir, hashlib.sha256(upload_id.encode("utf-8")).hexdigest() + ".json")

    def _load(self, sha256: str, upload_id: str, part_size: int) -> dict:
        key = self._file(upload_id)
        state = self._states.get(key)
        if state is not None:
            return state
        state = {"sha256": sha256, "uploadId": upload_id, "partSize": part_size, "parts": {}}
        try:
            with open(key, "r", encoding="utf-8") as handle:
                saved = json.load(handle)
            if saved.get("sha256") == sha256 and saved.get("uploadId") == upload_id and saved.get("partSize") == part_size:
                state = saved
        except (OSError, ValueError, AttributeError):
            pass
        self._states[key] = state
        return state

    def completed_parts(self, sha256: str, upload_id: str, part_size: int) -> Dict[int, str]:
        with self._lock:
            state = self._load(sha256, upload_id, part_size)
            return {int(n): etag for n, etag in state["parts"].items()}

    def record_part(self, sha256: str, upload_id: str, part_size: int, part_number: int, etag: str) -> None:
        """Parts finish concurrently; the file is rewritten under the lock, whole, then renamed."""
        with self._lock:
            state = self._load(sha256, upload_id, part_size)
            state["parts"][str(part_number)] = etag
            key = self._file(upload_id)
            os.makedirs(self.dir, exist_ok=True)
            temp = f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
            with open(temp, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            os.replace(temp, key)

    def forget(self, upload_id: str) -> None:
        with self._lock:
            key = self._file(upload_id)
            self._states.pop(key, None)
            try:
                os.remove(key)
            except FileNotFoundError:
                pass
