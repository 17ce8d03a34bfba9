"""An embedded registry for the tests: ``node --import tsx local/main.ts`` on a free port, data
in a temp dir, stopped (with its emulators) when the tests are done."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Dict, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_ROOT = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(CLIENT_ROOT))
ADMIN_KEY = "mreg-python-tests-admin-key"
STARTUP_SECONDS = 120


class Stack:
    def __init__(self, env: Optional[Dict[str, str]] = None):
        self.data_dir = tempfile.mkdtemp(prefix="mreg-py-stack-")
        environment = dict(os.environ)
        environment.update(
            {
                "MREG_PORT": "0",
                "MREG_DATA_DIR": self.data_dir,
                "MREG_ADMIN_KEY": ADMIN_KEY,
                "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
            }
        )
        environment.update(env or {})
        self.log_lines = []
        self.s3_endpoint: Optional[str] = None
        self.process = subprocess.Popen(
            ["node", "--import", "tsx", "local/main.ts"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.url = self._wait_for_url()
        self.admin_key = ADMIN_KEY
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                if self.process.poll() is not None:
                    break
                continue
            self.log_lines.append(line)
            store = re.search(r"S3 emulator at (http://\S+),", line)
            if store:
                self.s3_endpoint = store.group(1)
            match = re.search(r"mreg is serving (http://\S+)", line)
            if match:
                return match.group(1)
        self.stop()
        raise RuntimeError("the embedded registry did not start:\n" + "".join(self.log_lines[-40:]))

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log_lines.append(line)

    def s3_credentials(self) -> Dict[str, str]:
        """The only key pair the stack's S3 emulator accepts (what a bucket writer would hold)."""
        with open(os.path.join(self.data_dir, "s3-credentials.json"), encoding="utf-8") as handle:
            return json.load(handle)

    def api(self, method: str, path: str, body=None, key: Optional[str] = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"authorization": f"Bearer {key or self.admin_key}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            return error.code, json.loads(text) if text else None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)

