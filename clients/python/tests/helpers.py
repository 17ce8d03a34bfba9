"""What the tests share: the embedded stack (5 MiB multipart threshold and parts, so multipart
is exercised with small files), a work dir per test, and the client pointed at both."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the package under test, not an installed copy
sys.path.insert(0, HERE)

from stack import REPO_ROOT, Stack  # noqa: E402

MIB = 1024 * 1024
STACK_ENV = {"MREG_MULTIPART_THRESHOLD": str(5 * MIB), "MREG_PART_SIZE": str(5 * MIB)}
NODE_CLI = os.path.join(REPO_ROOT, "clients", "node", "bin", "mreg.js")

_stack: Optional[Stack] = None


def stack() -> Stack:
    """One stack for the whole test run (starting one takes seconds), stopped at exit."""
    global _stack
    if _stack is None:
        import atexit

        _stack = Stack(STACK_ENV)
        atexit.register(_stack.stop)
    return _stack


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write(path: str, data: bytes) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def tree_of(directory: str) -> Dict[str, bytes]:
    found = {}
    for root, _, files in os.walk(directory):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                found[os.path.relpath(full, directory).replace(os.sep, "/")] = handle.read()
    return found


def age(path: str, seconds: float = 3600) -> None:
    """An mtime in the past, like a checkpoint written earlier (the hash cache skips files modified seconds ago)."""
    for root, _, files in os.walk(path) if os.path.isdir(path) else [(os.path.dirname(path), [], [os.path.basename(path)])]:
        for name in files:
            full = os.path.join(root, name)
            stats = os.stat(full)
            os.utime(full, (stats.st_atime - seconds, stats.st_mtime - seconds))


class StackTestCase(unittest.TestCase):
    """Each test gets a fresh work dir (its cwd) and cache dir, and the admin's key."""

    def setUp(self) -> None:
        self.stack = stack()
        self.work = tempfile.mkdtemp(prefix="mreg-py-test-")
        self.cache = os.path.join(self.work, "cache")
        self._env = dict(os.environ)
        self._cwd = os.getcwd()
        os.environ.update(
            {
                "MREG_URL": self.stack.url,
                "MREG_API_KEY": self.stack.admin_key,
                "MREG_CACHE_DIR": self.cache,
                "MREG_CONFIG": os.path.join(self.work, "no-config.json"),
                "MREG_SILENT": "true",
            }
        )
        os.environ.pop("MREG_RUN_ID", None)
        os.chdir(self.work)

    def tearDown(self) -> None:
        import mreg

        if mreg.run is not None:
            mreg.run.finish()
        os.chdir(self._cwd)
        os.environ.clear()
        os.environ.update(self._env)
        shutil.rmtree(self.work, ignore_errors=True)

    def node_cli(self, *args: str, env: Optional[Dict[str, str]] = None) -> dict:
        """Runs the built Node CLI with --json against the same registry and cache."""
        if not os.path.exists(os.path.join(REPO_ROOT, "clients", "node", "dist", "cli.js")):
            subprocess.run(["node", "build.mjs", "--no-types"], cwd=os.path.join(REPO_ROOT, "clients", "node"), check=True)
        result = subprocess.run(
            ["node", NODE_CLI, *args, "--json"],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=self.work,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def new_user(self, name: str, role: str) -> str:
        status, _ = self.stack.api("POST", "/v1/users", {"name": name, "role": role})
        self.assertIn(status, (201, 409))
        status, body = self.stack.api("POST", "/v1/api-keys", {"user": name})
        self.assertEqual(status, 201)
        return body["key"]
