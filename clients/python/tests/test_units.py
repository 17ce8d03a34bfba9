"""Pieces without a registry: references, retries against a flaky store, the progress line,
metric batching, the hash cache's agreement with Node, and the offline install."""

import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import venv

from helpers import HERE, REPO_ROOT, write

import mreg
from mreg import _retry
from mreg._hashing import HashCache, hash_with_cache, mtime_ms
from mreg._progress import Progress
from mreg._refs import Ref, parse_link_target, parse_ref
from mreg._run import _take_batch
from mreg._transfer import close_idle_connections, get_to_file, is_refused, put_range
from mreg._api import ApiClient
from mreg.errors import Conflict, InvalidRequest, TransferError

CLIENT_ROOT = os.path.dirname(HERE)


class References(unittest.TestCase):
    def test_the_forms_a_script_may_use(self):
        cases = {
            "mnist-cnn:best": Ref("artifact", "vision", "mnist-cnn", "best"),
            "other/mnist-cnn": Ref("artifact", "other", "mnist-cnn"),
            "my-team/other/mnist-cnn:v3": Ref("artifact", "other", "mnist-cnn", "v3"),
            "@model/mnist-classifier:production": Ref("collection", "model", "mnist-classifier", "production"),
            "acme/wandb-registry-model/mnist:latest": Ref("collection", "model", "mnist", "latest"),
            "wandb-registry-dataset/mnist": Ref("collection", "dataset", "mnist"),
            "acme/model-registry/Fine-Tuned:v1": Ref("collection", "model", "Fine-Tuned", "v1"),
        }
        for text, expected in cases.items():
            with self.subTest(text=text):
                self.assertEqual(parse_ref(text, default_project="vision"), expected)
        self.assertEqual(str(cases["@model/mnist-classifier:production"]), "@model/mnist-classifier:production")
        with self.assertRaises(InvalidRequest):
            parse_ref("mnist-cnn")  # no run, so no project to default to

    def test_link_targets(self):
        self.assertEqual(parse_link_target("<INSERT-ORG-NAME>/wandb-registry-model/registry-quickstart-collection"), ("model", "registry-quickstart-collection"))
        self.assertEqual(parse_link_target("@dataset/mnist"), ("dataset", "mnist"))
        self.assertEqual(parse_link_target("model/mnist"), ("model", "mnist"))
        self.assertEqual(parse_link_target("noa/model-registry/Fine-Tuned-Review-Autocompletion"), ("model", "Fine-Tuned-Review-Autocompletion"))
        for bad in ["mnist", "a/b/c", "@model/mnist:v0", "acme/wandb-registry-/x"]:
            with self.subTest(target=bad), self.assertRaises(InvalidRequest):
                parse_link_target(bad)


class FlakyStore(http.server.BaseHTTPRequestHandler):
    """Answers each PUT from a script of statuses; records what it received."""

    script: list = []
    received: list = []

    def do_PUT(self):
        length = int(self.headers["content-length"])
        body = self.rfile.read(length)
        status = self.script.pop(0) if self.script else 200
        FlakyStore.received.append({"status": status, "body": body, "headers": dict(self.headers)})
        text = b"" if status < 300 else b"<Error><Code>AccessDenied</Code></Error>" if status == 403 else b"<Error><Code>SlowDown</Code></Error>"
        self.send_response(status)
        self.send_header("ETag", '"etag-1"')
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_GET(self):
        status = self.script.pop(0) if self.script else 200
        body = b"hello store" if status == 200 else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"abc"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Transfers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyStore)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}/bucket/key?X-Amz-Signature=x"
        cls.dir = tempfile.mkdtemp()
        cls.file = write(os.path.join(cls.dir, "f.bin"), bytes(range(256)) * 100)

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        close_idle_connections()
        shutil.rmtree(cls.dir)

    def setUp(self):
        FlakyStore.received = []
        self._sleep = _retry.BASE_DELAY
        _retry.BASE_DELAY = 0.001

    def tearDown(self):
        _retry.BASE_DELAY = self._sleep

    def test_transient_statuses_are_retried_and_the_range_is_sent_with_exactly_the_plan_headers(self):
        FlakyStore.script = [503, 500, 200]
        etag = _retry.with_retries(lambda: put_range(self.url, {"x-amz-checksum-sha256": "abc="}, self.file, 100, 1100), retries=5)
        self.assertEqual(etag, '"etag-1"')
        self.assertEqual([r["status"] for r in FlakyStore.received], [503, 500, 200])
        last = FlakyStore.received[-1]
        self.assertEqual(last["body"], (bytes(range(256)) * 100)[100:1100])
        self.assertEqual(last["headers"]["x-amz-checksum-sha256"], "abc=")
        self.assertEqual(last["headers"]["Content-Length"], "1000")
        self.assertNotIn("Transfer-Encoding", last["headers"])

    def test_a_refusal_is_final_and_a_403_asks_for_fresh_urls(self):
        FlakyStore.script = [403]
        with self.assertRaises(TransferError) as caught:
            _retry.with_retries(lambda: put_range(self.url, {}, self.file, 0, 10), retries=5)
        self.assertEqual(len(FlakyStore.received), 1)
        self.assertTrue(is_refused(caught.exception))
        self.assertIn("AccessDenied", str(caught.exception))

    def test_429_is_transient_and_retries_end(self):
        FlakyStore.script = [429] * 3
        with self.assertRaises(TransferError) as caught:
            _retry.with_retries(lambda: put_range(self.url, {}, self.file, 0, 10), retries=2)
        self.assertEqual(caught.exception.status, 429)
        self.assertEqual(len(FlakyStore.received), 3)

    def test_a_download_is_hashed_as_it_is_written(self):
        FlakyStore.script = [502, 200]
        dest = os.path.join(self.dir, "got")
        size, sha, etag, _ = _retry.with_retries(lambda: get_to_file(self.url, dest))
        self.assertEqual((size, etag), (11, "abc"))
        import hashlib

        self.assertEqual(sha, hashlib.sha256(b"hello store").hexdigest())

    def test_a_network_failure_has_no_status_and_is_transient(self):
        with self.assertRaises(TransferError) as caught:
            put_range("http://127.0.0.1:9/x", {}, self.file, 0, 10)
        self.assertIsNone(caught.exception.status)
        self.assertTrue(_retry.is_transient(caught.exception))


class BusyRegistry(http.server.BaseHTTPRequestHandler):
    """Answers POSTs from a script of (status, error code) pairs, then 201."""

    script: list = []
    calls = 0

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        BusyRegistry.calls += 1
        if self.script:
            status, code = self.script.pop(0)
            body = json.dumps({"error": {"code": code, "message": "blobs are being verified by another upload; retry shortly: w.bin", "requestId": "r"}})
        else:
            status, body = 201, json.dumps({"version": "v0", "created": True})
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class BlobBusyRetries(unittest.TestCase):
    """A 409 blob_busy (another upload verifying the same bytes) is retried with backoff, by its code."""

    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BusyRegistry)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.api = ApiClient(f"http://127.0.0.1:{cls.server.server_address[1]}", "k")

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        BusyRegistry.calls = 0
        self._delays = (_retry.BLOB_BUSY_BASE_DELAY, _retry.BLOB_BUSY_MAX_DELAY)
        _retry.BLOB_BUSY_BASE_DELAY, _retry.BLOB_BUSY_MAX_DELAY = 0.001, 0.002

    def tearDown(self):
        _retry.BLOB_BUSY_BASE_DELAY, _retry.BLOB_BUSY_MAX_DELAY = self._delays

    def test_the_same_request_is_sent_again_until_the_blob_is_verified(self):
        BusyRegistry.script = [(409, "blob_busy")] * 3
        self.assertEqual(self.api.post("/v1/projects/p/artifacts/a/versions", {"files": []}), {"version": "v0", "created": True})
        self.assertEqual(BusyRegistry.calls, 4)

    def test_it_gives_up_after_its_retries_with_the_registry_message(self):
        BusyRegistry.script = [(409, "blob_busy")] * 20
        with self.assertRaises(Conflict) as caught:
            self.api.post("/v1/x", {})
        self.assertEqual((caught.exception.status, caught.exception.code), (409, "blob_busy"))
        self.assertIn("retry shortly", str(caught.exception))
        self.assertEqual(BusyRegistry.calls, 1 + _retry.BLOB_BUSY_RETRIES)

    def test_another_conflict_is_final_whatever_its_message(self):
        BusyRegistry.script = [(409, "conflict")]
        with self.assertRaises(Conflict):
            self.api.post("/v1/x", {})
        self.assertEqual(BusyRegistry.calls, 1)
        BusyRegistry.script = []

    def test_the_waits_outlast_the_claim_lease(self):
        waits = []
        _retry.BLOB_BUSY_BASE_DELAY, _retry.BLOB_BUSY_MAX_DELAY = self._delays
        failure = Conflict("busy", status=409, code="blob_busy")

        def always_busy():
            raise failure

        original = _retry.random.random
        _retry.random.random = lambda: 1.0
        try:
            with self.assertRaises(Conflict):
                _retry.with_blob_busy_retries(always_busy, sleep=waits.append)
        finally:
            _retry.random.random = original
        self.assertEqual(waits[:4], [0.5, 1.0, 2.0, 4.0])
        self.assertGreater(sum(waits), 30.0)


class ProgressLine(unittest.TestCase):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    def test_one_line_on_a_terminal_with_bytes_rate_and_eta(self):
        stream = self.Tty()
        progress = Progress(stream)
        self.assertTrue(progress.enabled)
        progress.start("uploading", 2 * 1024 * 1024)
        progress.advance("uploading", 1024 * 1024)
        progress.end("uploading")
        text = stream.getvalue()
        self.assertIn("\r", text)
        self.assertIn("uploading", text)
        self.assertIn("1.0 MiB/2.0 MiB", text)
        self.assertIn("/s ETA", text)
        self.assertTrue(text.endswith("\n"))

    def test_nothing_off_a_terminal_or_when_silenced(self):
        plain = io.StringIO()
        Progress(plain).start("hashing", 10)
        self.assertEqual(plain.getvalue(), "")
        os.environ["MREG_SILENT"] = "true"
        try:
            tty = self.Tty()
            Progress(tty).start("hashing", 10)
            self.assertEqual(tty.getvalue(), "")
        finally:
            del os.environ["MREG_SILENT"]


class MetricBatches(unittest.TestCase):
    def test_a_request_takes_at_most_1000_rows_and_100_distinct_keys(self):
        buffer = [{"step": i, "values": {"loss": i}} for i in range(2500)]
        sizes = []
        while buffer:
            sizes.append(len(_take_batch(buffer)))
        self.assertEqual(sizes, [1000, 1000, 500])
        wide = [{"step": 0, "values": {f"k{i}": i for i in range(250)}}, {"step": 1, "values": {"k0": 1}}]
        batches = []
        while wide:
            batches.append(_take_batch(wide))
        self.assertEqual([sum(len(item["values"]) for item in b) for b in batches], [100, 100, 51])  # the rest of the wide row and the next row fit one request


class HashCacheAgreesWithNode(unittest.TestCase):
    def test_mtime_in_milliseconds_is_nodes_mtimeMs(self):
        directory = tempfile.mkdtemp()
        try:
            path = write(os.path.join(directory, "f.bin"), b"x")
            os.utime(path, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
            node = subprocess.run(["node", "-e", "console.log(JSON.stringify(require('fs').statSync(process.argv[1]).mtimeMs))", path], capture_output=True, text=True, check=True)
            self.assertEqual(json.loads(node.stdout), mtime_ms(os.stat(path)))
            os.utime(path, (1000, 1000))
            cache = HashCache(os.path.join(directory, "hashes"))
            first = hash_with_cache(path, cache)
            self.assertFalse(first[2])
            self.assertEqual(hash_with_cache(path, cache), (first[0], 1, True))
            write(path, b"y")  # a new mtime: the entry no longer answers
            self.assertFalse(hash_with_cache(path, cache)[2])
        finally:
            shutil.rmtree(directory)


class Packaging(unittest.TestCase):
    def test_the_package_imports_without_site_packages(self):
        modules = [name[:-3] for name in os.listdir(os.path.join(CLIENT_ROOT, "mreg")) if name.endswith(".py") and name != "__init__.py"]
        code = "import mreg, " + ", ".join(f"mreg.{m}" for m in modules) + "; print(mreg.__version__)"
        result = subprocess.run([sys.executable, "-S", "-c", code], cwd=CLIENT_ROOT, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), mreg.__version__)

    def test_pip_installs_it_offline(self):
        directory = tempfile.mkdtemp()
        try:
            venv.create(directory, with_pip=True)
            python = os.path.join(directory, "bin", "python")
            install = subprocess.run(
                [python, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", "--quiet", CLIENT_ROOT],
                capture_output=True,
                text=True,
                cwd=directory,
            )
            self.assertEqual(install.returncode, 0, install.stderr)
            check = subprocess.run([python, "-c", "import mreg, os; print(mreg.__version__, os.path.dirname(mreg.__file__))"], capture_output=True, text=True, cwd=directory)
            version, location = check.stdout.split()
            self.assertEqual(version, mreg.__version__)
            self.assertIn("site-packages", location)
        finally:
            shutil.rmtree(directory)


if __name__ == "__main__":
    unittest.main()


class CanonicalManifest(unittest.TestCase):
    """The fixture the server's and the Node client's tests check too (test/unit/client-verify-manifest.test.ts)."""

    def setUp(self):
        from mreg._manifest import listing_digest, verify_listing

        with open(os.path.join(REPO_ROOT, "test", "fixtures", "canonical-manifest.json"), encoding="utf-8") as handle:
            self.golden = json.load(handle)
        self.listing_digest = listing_digest
        self.verify_listing = verify_listing

    def listing(self):
        return [dict(entry, url="https://store.example/x") for entry in self.golden["entries"]]

    def test_the_digest_is_the_servers_whatever_the_order(self):
        self.assertEqual(self.listing_digest(self.listing()), self.golden["digest"])
        self.assertEqual(self.listing_digest(list(reversed(self.listing()))), self.golden["digest"])
        self.verify_listing(self.listing(), self.golden["digest"], "p/a:v0")

    def test_a_changed_listing_is_an_integrity_error(self):
        from mreg.errors import IntegrityError

        changes = {
            "other bytes": lambda files: [dict(files[0], sha256="d" * 64)] + files[1:],
            "a size": lambda files: [dict(files[0], size=6)] + files[1:],
            "a file added": lambda files: files + [{"path": "evil.sh", "size": 1, "sha256": "e" * 64, "url": "x"}],
            "a file left out": lambda files: files[1:],
            "an etag": lambda files: [dict(f, etag="other") if f.get("ref") else f for f in files],
            "neither sha256 nor ref": lambda files: [{"path": files[0]["path"], "size": files[0]["size"]}] + files[1:],
            "a size that is not a number": lambda files: [dict(files[0], size="5")] + files[1:],
        }
        for what, change in changes.items():
            with self.subTest(what), self.assertRaises(IntegrityError) as caught:
                self.verify_listing(change(self.listing()), self.golden["digest"], "p/a:v0")
            self.assertIn("p/a:v0: the registry's file list does not match the version's digest", str(caught.exception))

    def test_lone_surrogates_are_escaped_as_javascript_does(self):
        from mreg._manifest import canonical_text

        self.assertEqual(canonical_text([{"path": "a\ud800", "size": 1, "sha256": "f"}]), '[{"path":"a\\ud800","size":1,"sha256":"f"}]')

    def test_an_integrity_error_from_the_registry_is_final(self):
        from mreg.errors import IntegrityError, error_for_status

        error = error_for_status(500, "integrity_error", "the stored manifest ... was modified")
        self.assertIsInstance(error, IntegrityError)
        self.assertIsInstance(error, TransferError)
        self.assertFalse(_retry.is_transient(error))
        self.assertTrue(_retry.is_transient(error_for_status(500, "internal", "internal error")))
