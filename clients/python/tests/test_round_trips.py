"""log / re-log / use / link round trips against the embedded registry, byte for byte."""

import os
import unittest

from helpers import MIB, StackTestCase, age, tree_of, write

import mreg
from mreg._download import blob_cache_path


class RoundTrips(StackTestCase):
    def test_log_relog_use_a_directory_byte_for_byte(self):
        write("ckpt/model.bin", os.urandom(300_000))
        write("ckpt/config.json", b'{"layers": 4}')
        write("ckpt/nested/tokenizer.txt", b"a b c")
        age("ckpt")
        with mreg.init(project="vision", name="fit-mnist", config={"lr": 1e-3}) as run:
            first = run.log_model(path="./ckpt", name="mnist-cnn", aliases=["best"], metadata={"acc": 0.991})
            self.assertEqual((first.version, first.created), ("v0", True))
            self.assertEqual(first.stats["uploadedBytes"], 300_000 + 13 + 5)
            self.assertEqual(sorted(first.aliases), ["best", "latest"])

            again = run.log_model(path="./ckpt", name="mnist-cnn")
            self.assertEqual((again.version, again.created), ("v0", False))
            self.assertEqual(again.stats["uploadedBytes"], 0)
            self.assertEqual(again.stats["hashedBytes"], 0, "the hash cache answers for unchanged files")

            path = run.use_model("mnist-cnn:best")
        self.assertEqual(tree_of(path), tree_of("ckpt"))
        self.assertEqual(os.path.basename(path), "mnist-cnn-v0")

        version = self.stack.api("GET", "/v1/projects/vision/artifacts/mnist-cnn/versions/v0")[1]
        self.assertEqual(version["metadata"], {"acc": 0.991})
        self.assertEqual(version["type"], "model")
        lineage = self.stack.api("GET", "/v1/projects/vision/artifacts/mnist-cnn/versions/v0/lineage?direction=both")[1]
        edges = {(e["from"], e["to"], e["kind"]) for e in lineage["edges"]}
        self.assertIn((f"run:vision/{run.id}", "version:vision/mnist-cnn:v0", "output"), edges)
        self.assertIn(("version:vision/mnist-cnn:v0", f"run:vision/{run.id}", "input"), edges)

    def test_usage_counts_a_blob_shared_by_two_artifacts_once(self):
        write("shared/weights.bin", os.urandom(10_000))
        age("shared")
        with mreg.init(project="usage-py", name="share") as run:
            run.log_model(path="./shared", name="one")
            run.log_model(path="./shared", name="two")
        usage = mreg.Api().usage("usage-py")
        self.assertEqual((usage["project"], usage["versions"], usage["files"]), ("usage-py", 2, 2))
        self.assertEqual((usage["logicalBytes"], usage["storedBytes"], usage["dedupRatio"]), (20_000, 10_000, 2))
        self.assertGreaterEqual(mreg.Api().usage()["storedBytes"], 10_000)

    def test_a_file_is_logged_under_its_name_and_changed_content_is_a_new_version(self):
        write("weights.pt", b"epoch 1")
        with mreg.init(project="vision") as run:
            v0 = run.log_model(path="weights.pt", name="single")
            write("weights.pt", b"epoch 2")
            v1 = run.log_model(path="weights.pt", name="single")
            self.assertEqual((v0.version, v1.version, v1.created), ("v0", "v1", True))
            default = run.log_model(path="weights.pt")
            self.assertEqual(default.name, f"run-{run.id}-weights.pt")
        files = self.stack.api("GET", "/v1/projects/vision/artifacts/single/versions/v1/files")[1]["items"]
        self.assertEqual([f["path"] for f in files], ["weights.pt"])
        self.assertEqual(tree_of(mreg.Api().artifact("vision/single:v0").download("old")), {"weights.pt": b"epoch 1"})

    def test_link_model_creates_the_collection_in_the_default_model_registry(self):
        write("model.pt", os.urandom(1000))
        with mreg.init(project="vision") as run:
            linked = run.link_model(path="./model.pt", registered_model_name="mnist-classifier", aliases=["staging"])
            self.assertEqual((linked.ref, linked.created), ("@model/mnist-classifier:v0", True))
            twice = run.link_model(path="./model.pt", registered_model_name="mnist-classifier")
            self.assertEqual((twice.version, twice.created), ("v0", False))
        api = mreg.Api()
        target = api.artifact("@model/mnist-classifier:staging").download("./model")
        self.assertEqual(tree_of(target), {"model.pt": open("model.pt", "rb").read()})
        collection = api.collection("model", "mnist-classifier")
        self.assertEqual(collection.aliases, {"latest": "v0", "staging": "v0"})

    def test_log_artifact_and_link_artifact_into_the_dataset_registry_then_use_artifact(self):
        write("data/train.csv", b"x,y\n1,2\n")
        write("data/test.csv", b"x,y\n3,4\n")
        with mreg.init(project="vision", job_type="prepare", tags=["mnist"], notes="clean split") as run:
            art = run.log_artifact("./data", name="mnist-train", type="dataset")
            linked = run.link_artifact(art, "@dataset/mnist", aliases=["latest-clean"])
            self.assertEqual(linked.ref, "@dataset/mnist:v0")
        self.stack.api("PUT", "/v1/registries/dataset/collections/mnist/tags/vision")
        with mreg.init(project="vision", job_type="train") as consumer:
            used = consumer.use_artifact("@dataset/mnist:latest-clean")
            self.assertEqual((used.name, used.version, used.type), ("mnist-train", "v0", "dataset"))
            self.assertEqual(tree_of(used.download()), tree_of("data"))
            built = mreg.Artifact("eval-set", type="dataset", metadata={"rows": 1})
            built.add_file("data/test.csv", name="eval/test.csv")
            logged = consumer.log_artifact(built)
            self.assertEqual(logged.qualified_name, "vision/eval-set:v0")
        inputs = self.stack.api("GET", f"/v1/projects/vision/runs/{consumer.id}/lineage?direction=up&depth=1")[1]
        self.assertIn("version:vision/mnist-train:v0", [n["id"] for n in inputs["nodes"]])
        names = [(c.name, c.aliases) for c in mreg.Api().collections("dataset", tag="vision")]
        self.assertEqual(names, [("mnist", {"latest": "v0", "latest-clean": "v0"})])

    def test_a_wrong_type_for_the_registry_is_refused_with_both_types_named(self):
        write("rows.csv", b"1,2")
        with mreg.init(project="vision") as run:
            art = run.log_artifact("rows.csv", name="rows", type="dataset")
            with self.assertRaises(mreg.errors.InvalidRequest) as caught:
                run.link_artifact(art, "@model/rows")
        self.assertIn("dataset", str(caught.exception))
        self.assertIn("model", str(caught.exception))

    def test_multipart_with_small_parts_round_trips_and_fills_the_download_cache(self):
        data = os.urandom(12 * MIB + 123)
        write("big/weights.bin", data)
        with mreg.init(project="vision") as run:
            logged = run.log_model("big", name="big")
            self.assertEqual(logged.stats["uploadedBytes"], len(data))
            path = run.use_model("big:latest")
        self.assertEqual(tree_of(path), {"weights.bin": data})
        from helpers import sha256_of

        cached = blob_cache_path(self.cache, sha256_of("big/weights.bin"))
        self.assertTrue(os.path.exists(cached))
        again = mreg.Api().artifact("vision/big:v0")
        again.download("elsewhere")
        self.assertEqual(again.stats["downloadedBytes"], 0)
        self.assertEqual(again.stats["cachedBytes"], len(data))

    def test_duplicate_content_under_two_paths_is_sent_once(self):
        blob = os.urandom(50_000)
        write("twins/a.bin", blob)
        write("twins/b/a.bin", blob)
        with mreg.init(project="vision") as run:
            logged = run.log_model("twins", name="twins")
        self.assertEqual(logged.stats["uploadedBytes"], len(blob))
        self.assertEqual(tree_of(mreg.Api().artifact("vision/twins:latest").download("out")), tree_of("twins"))


if __name__ == "__main__":
    unittest.main()
