"""The log engine's protocol against a fake registry and a scripted store: expired URLs are
refreshed once (same uploadId for multipart), parts are completed with their ETags, a
store that keeps failing fails the log with TransferError."""

import http.server
import os
import shutil
import tempfile
import threading
import unittest

from helpers import write

from mreg import _retry
from mreg._log import Engine, collect_files
from mreg._transfer import close_idle_connections
from mreg.errors import TransferError


class ScriptedStore(http.server.BaseHTTPRequestHandler):
    script: list = []
    puts: list = []
    lock = threading.Lock()

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        with self.lock:
            status = self.script.pop(0) if self.script else 200
            ScriptedStore.puts.append({"path": self.path, "status": status, "size": len(body), "headers": dict(self.headers)})
            etag = f'"etag-{len(ScriptedStore.puts)}"'
        text = b"<Error><Code>AccessDenied</Code></Error>" if status == 403 else b""
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


class FakeRegistry:
    """Answers plans (fresh URLs each time), completions and commits; records every call."""

    def __init__(self, store: str, part_size=None):
        self.store = store
        self.part_size = part_size
        self.calls = []
        self.plans = 0

    def post(self, path, body):
        self.calls.append((path, body))
        if path.endswith("/uploads"):
            self.plans += 1
            uploads = []
            for blob in body["files"]:
                if self.part_size:
                    count = -(-blob["size"] // self.part_size)
                    parts = [{"partNumber": n, "url": f"{self.store}/part{n}?plan={self.plans}", "headers": {"x-plan": str(self.plans)}} for n in range(1, count + 1)]
                    uploads.append({"sha256": blob["sha256"], "size": blob["size"], "multipart": {"uploadId": "up-1", "partSize": self.part_size, "parts": parts}})
                else:
                    uploads.append({"sha256": blob["sha256"], "size": blob["size"], "method": "PUT", "url": f"{self.store}/blob?plan={self.plans}", "headers": {"x-plan": str(self.plans)}})
            return {"uploads": uploads, "present": []}
        if path.endswith("/uploads/complete"):
            return {"sha256": body["sha256"], "verified": True}
        if path.endswith("/versions"):
            return {"version": "v0", "index": 0, "digest": "d" * 64, "created": True, "aliases": ["latest"]}
        raise AssertionError(path)


class EngineProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ScriptedStore)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.store = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        close_idle_connections()

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        ScriptedStore.puts = []
        self._base = _retry.BASE_DELAY
        _retry.BASE_DELAY = 0.001

    def tearDown(self):
        _retry.BASE_DELAY = self._base
        shutil.rmtree(self.dir)

    def files(self, size):
        write(os.path.join(self.dir, "ckpt", "w.bin"), os.urandom(size))
        return collect_files([(os.path.join(self.dir, "ckpt"), None)])

    def test_an_expired_put_gets_fresh_urls_once_and_is_sent_with_their_headers(self):
        ScriptedStore.script = [403, 200]
        registry = FakeRegistry(self.store)
        result = Engine(registry, os.path.join(self.dir, "cache")).log_files("p", "a", self.files(1000))
        self.assertEqual(registry.plans, 2)
        self.assertEqual([(p["status"], p["headers"]["x-plan"]) for p in ScriptedStore.puts], [(403, "1"), (200, "2")])
        self.assertEqual(result.stats["uploadedBytes"], 1000)
        commit = registry.calls[-1]
        self.assertTrue(commit[0].endswith("/versions"))
        self.assertEqual(commit[1]["files"][0]["size"], 1000)

    def test_multipart_parts_are_retried_refreshed_once_and_completed_with_their_etags(self):
        ScriptedStore.script = [503, 403, 200, 200, 200]
        registry = FakeRegistry(self.store, part_size=400)
        result = Engine(registry, os.path.join(self.dir, "cache"), concurrency=1).log_files("p", "a", self.files(1000))
        self.assertEqual(registry.plans, 2)
        complete = [body for path, body in registry.calls if path.endswith("/uploads/complete")]
        self.assertEqual(len(complete), 1)
        self.assertEqual([p["partNumber"] for p in complete[0]["parts"]], [1, 2, 3])
        self.assertEqual(complete[0]["uploadId"], "up-1")
        sent = [p for p in ScriptedStore.puts if p["status"] == 200]
        self.assertEqual(sorted(p["size"] for p in sent), [200, 400, 400])
        self.assertEqual(result.stats["uploadedBytes"], 1000)
        self.assertFalse(os.listdir(os.path.join(self.dir, "cache", "uploads")), "resume state is forgotten once complete")

    def test_a_store_that_keeps_failing_fails_the_log_with_transfer_error_and_commits_nothing(self):
        ScriptedStore.script = [500] * 10
        registry = FakeRegistry(self.store)
        with self.assertRaises(TransferError) as caught:
            Engine(registry, None).log_files("p", "a", self.files(100))
        self.assertEqual(caught.exception.status, 500)
        self.assertEqual(len(ScriptedStore.puts), 6)  # the first attempt and five retries
        self.assertFalse(any(path.endswith("/versions") for path, _ in registry.calls))


if __name__ == "__main__":
    unittest.main()
