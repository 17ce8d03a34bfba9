"""Transfers: resume after a crash, 8 concurrent logs, open uploads, the cache shared with the Node CLI."""

import glob
import json
import os
import subprocess
import sys
import threading
import time
import unittest

from helpers import HERE, MIB, StackTestCase, age, sha256_of, tree_of, write

import mreg
from mreg._api import ApiClient
from mreg._log import Engine, collect_files

CRASHING_LOG = """
import os, sys
sys.path.insert(0, {client!r})
import mreg
run = mreg.init(project="resume", id="crashing")
run.log_model({path!r}, name="resumable")
"""


class Resume(StackTestCase):
    def test_a_crashed_multipart_upload_is_resumed_from_its_saved_etags(self):
        data = os.urandom(30 * MIB)
        write("ckpt/weights.bin", data)
        age("ckpt")
        # A separate process logs with one transfer at a time and is killed once a few parts landed.
        script = CRASHING_LOG.format(client=os.path.dirname(HERE), path=os.path.join(self.work, "ckpt"))
        child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "MREG_CONCURRENCY": "1"})
        states = os.path.join(self.cache, "uploads")
        deadline = time.monotonic() + 60
        saved = {}
        while time.monotonic() < deadline and child.poll() is None:
            for name in glob.glob(os.path.join(states, "*.json")):
                try:
                    with open(name) as handle:
                        saved = json.load(handle)
                except (OSError, ValueError):
                    continue
            if len(saved.get("parts", {})) >= 2:
                child.kill()
                break
            time.sleep(0.02)
        child.wait()
        self.assertGreaterEqual(len(saved.get("parts", {})), 2, "the child was to be killed mid-upload")
        self.assertLess(len(saved["parts"]), 6)
        self.assertEqual(saved["sha256"], sha256_of("ckpt/weights.bin"))

        with mreg.init(project="resume", id="crashing") as run:
            logged = run.log_model("ckpt", name="resumable")
        resumed = logged.stats["resumedBytes"]
        self.assertGreaterEqual(resumed, 2 * 5 * MIB)
        self.assertEqual(logged.stats["uploadedBytes"] + resumed, len(data))
        self.assertEqual(glob.glob(os.path.join(states, "*.json")), [], "state is forgotten once complete")
        self.assertEqual(tree_of(mreg.Api().artifact("resume/resumable:v0").download("out")), {"weights.bin": data})


class Concurrency(StackTestCase):
    def test_eight_threads_log_different_content_into_one_artifact_gap_free(self):
        for i in range(8):
            write(f"ckpt-{i}/weights.bin", f"checkpoint {i} ".encode() * 1000 + os.urandom(64))
        results = {}
        errors = []
        with mreg.init(project="parallel") as run:

            def log(i: int) -> None:
                try:
                    results[i] = run.log_model(f"ckpt-{i}", name="shared")
                except Exception as error:  # reported below
                    errors.append(error)

            threads = [threading.Thread(target=log, args=(i,)) for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(r.index for r in results.values()), list(range(8)))
        self.assertTrue(all(r.created for r in results.values()))
        for i, logged in results.items():
            self.assertEqual(tree_of(mreg.Api().artifact(f"parallel/shared:{logged.version}").download(f"out-{i}")), tree_of(f"ckpt-{i}"))


class OpenUploads(StackTestCase):
    def test_a_file_the_cache_does_not_know_is_sent_while_it_is_hashed(self):
        data = os.urandom(3 * MIB)
        write("fresh/weights.bin", data)
        engine = Engine(ApiClient(self.stack.url, self.stack.admin_key), self.cache)
        logged = engine.log_files("open", "streamed", collect_files([("fresh", None)]), open_upload_min_bytes=1 * MIB)
        self.assertEqual(logged.stats["sentWhileHashing"], 1)
        self.assertEqual(logged.stats["uploadedBytes"], len(data))
        self.assertEqual(logged.stats["discardedBytes"], 0)
        # The same bytes under another name: the store holds them, so the open upload is stopped and discarded.
        write("copy/other.bin", data)
        again = engine.log_files("open", "copied", collect_files([("copy", None)]), open_upload_min_bytes=1 * MIB)
        self.assertEqual(again.stats["uploadedBytes"], 0)
        self.assertEqual(again.stats["reusedBytes"], len(data))
        self.assertEqual(tree_of(mreg.Api().artifact("open/streamed:v0").download("out")), {"weights.bin": data})


class SharedWithNode(StackTestCase):
    def test_node_downloads_then_python_downloads_nothing(self):
        data = os.urandom(2 * MIB)
        write("ckpt/model.bin", data)
        logged = self.node_cli("log", "ckpt", "-p", "shared", "-n", "node-logged")
        self.assertEqual(logged["version"], "v0")
        used = self.node_cli("use", "shared/node-logged:v0", "--dir", os.path.join(self.work, "by-node"))
        self.assertEqual(used["downloadedBytes"], len(data))
        with mreg.init(project="shared") as run:
            artifact = run.use_artifact("node-logged:v0")
            path = artifact.download("by-python")
        self.assertEqual(artifact.stats["downloadedBytes"], 0)
        self.assertEqual(artifact.stats["cachedBytes"], len(data))
        self.assertEqual(tree_of(path), {"model.bin": data})

    def test_python_downloads_then_node_downloads_nothing(self):
        data = os.urandom(2 * MIB)
        write("ckpt/model.bin", data)
        with mreg.init(project="shared") as run:
            run.log_model("ckpt", name="py-logged")
            artifact = run.use_artifact("py-logged:v0")
            artifact.download("by-python")
        self.assertEqual(artifact.stats["downloadedBytes"], len(data))
        used = self.node_cli("use", "shared/py-logged:v0", "--dir", os.path.join(self.work, "by-node"))
        self.assertEqual((used["downloadedBytes"], used["cachedBytes"]), (0, len(data)))

    def test_a_file_hashed_by_one_client_is_not_read_again_by_the_other(self):
        write("node-first/model.bin", os.urandom(MIB))
        write("python-first/model.bin", os.urandom(MIB))
        age("node-first")
        age("python-first")
        by_node = self.node_cli("log", "node-first", "-p", "shared", "-n", "hash-a")
        self.assertEqual(by_node["hashedBytes"], MIB)
        with mreg.init(project="shared") as run:
            again = run.log_model("node-first", name="hash-a")
            self.assertEqual((again.created, again.stats["hashedBytes"]), (False, 0))
            first = run.log_model("python-first", name="hash-b")
            self.assertEqual(first.stats["hashedBytes"], MIB)
        by_node_again = self.node_cli("log", "python-first", "-p", "shared", "-n", "hash-b")
        self.assertEqual((by_node_again["created"], by_node_again["hashedBytes"]), (False, 0))

    def test_a_multipart_upload_started_by_python_is_finished_by_node(self):
        data = os.urandom(16 * MIB)
        write("ckpt/weights.bin", data)
        age("ckpt")
        engine = Engine(ApiClient(self.stack.url, self.stack.admin_key), self.cache, concurrency=1)

        class Interrupted(Exception):
            pass

        def stop_after_two(part: dict) -> None:
            if part["partNumber"] >= 2:
                raise Interrupted()

        with self.assertRaises(Interrupted):
            engine.log_files("shared", "handover", collect_files([("ckpt", None)]), on_part_uploaded=stop_after_two)
        finished = self.node_cli("log", "ckpt", "-p", "shared", "-n", "handover")
        self.assertGreaterEqual(finished["resumedBytes"], 2 * 5 * MIB)
        self.assertEqual(finished["uploadedBytes"] + finished["resumedBytes"], len(data))


if __name__ == "__main__":
    unittest.main()
