"""Bytes changed in the store behind the registry's back never reach a user's disk: a manifest
overwritten in the bucket is refused by the registry, a blob overwritten is refused by the
client, and neither leaves a file behind. The store itself refuses anyone without its key pair."""

import hashlib
import json
import os
import unittest

from helpers import StackTestCase, age, tree_of, write
from s3_signing import signed_request

import mreg
from mreg.errors import IntegrityError

BUCKET = "mreg-blobs"


class TamperedStore(StackTestCase):
    def log(self, name: str) -> dict:
        write(f"{name}/model.bin", os.urandom(50_000))
        write(f"{name}/config.json", json.dumps({"name": name}).encode())
        age(name)
        with mreg.init(project="integrity", name="fit") as run:
            run.log_model(path=f"./{name}", name=name)
        return self.stack.api("GET", f"/v1/projects/integrity/artifacts/{name}/versions/latest")[1]

    def put_in_store(self, key: str, body: bytes) -> None:
        status, text = signed_request(self.stack.s3_endpoint, "PUT", f"/{BUCKET}/{key}", self.stack.s3_credentials(), body)
        self.assertEqual(status, 200, text)

    def tamper(self, key: str, body: bytes) -> None:
        """Overwrites `key` in the store, and puts the original back after the test: the suite
        shares one registry, whose org-wide reads (usage) must not meet this test's damage."""
        status, original = signed_request(self.stack.s3_endpoint, "GET", f"/{BUCKET}/{key}", self.stack.s3_credentials())
        self.assertEqual(status, 200, original)
        self.put_in_store(key, body)
        self.addCleanup(self.put_in_store, key, original)

    def test_a_manifest_overwritten_in_the_store_is_refused_and_nothing_is_written(self):
        version = self.log("swapped-manifest")
        evil = b"#!/bin/sh\necho owned\n"
        evil_sha = hashlib.sha256(evil).hexdigest()
        self.put_in_store(f"blobs/{evil_sha}", evil)
        entries = [{"path": "model.bin", "size": len(evil), "sha256": evil_sha}]
        self.tamper(f"manifests/{version['digest']}.json", json.dumps({"digest": version["digest"], "entries": entries}).encode())

        with self.assertRaises(IntegrityError) as caught:
            mreg.Api().artifact("integrity/swapped-manifest:v0").download("./out")
        self.assertIn("integrity/swapped-manifest:v0", str(caught.exception))
        self.assertIn(version["digest"], str(caught.exception))
        self.assertEqual(caught.exception.status, 500)
        self.assertFalse(os.path.exists("out"))

    def test_a_blob_overwritten_in_the_store_is_refused_and_nothing_of_the_version_is_kept(self):
        self.log("swapped-blob")
        version = self.stack.api("GET", "/v1/projects/integrity/artifacts/swapped-blob/versions/v0/files")[1]
        model = next(f for f in version["items"] if f["path"] == "model.bin")
        self.tamper(f"blobs/{model['sha256']}", b"x" * model["size"])
        os.makedirs("out")
        write("out/mine.txt", b"kept")

        with self.assertRaises(IntegrityError) as caught:
            mreg.Api().artifact("integrity/swapped-blob:v0").download("./out")
        self.assertIn("model.bin", str(caught.exception))
        self.assertEqual(tree_of("out"), {"mine.txt": b"kept"})
        cached = os.path.join(self.cache, "blobs", model["sha256"][:2], model["sha256"])
        self.assertFalse(os.path.exists(cached))

    def test_the_store_refuses_requests_not_signed_with_its_key_pair(self):
        credentials = self.stack.s3_credentials()
        self.assertNotEqual(credentials["accessKeyId"], "S3RVER")
        for method, path in [("GET", f"/{BUCKET}"), ("GET", f"/{BUCKET}/manifests/x.json"), ("PUT", f"/{BUCKET}/blobs/{'a' * 64}"), ("DELETE", f"/{BUCKET}/manifests/x.json")]:
            for who, pair in [
                ("nobody", None),
                ("S3RVER", {"accessKeyId": "S3RVER", "secretAccessKey": "S3RVER"}),
                ("a wrong secret", dict(credentials, secretAccessKey="y" * 43)),
            ]:
                with self.subTest(method=method, path=path, who=who):
                    status, _ = signed_request(self.stack.s3_endpoint, method, path, pair, b"tampered")
                    self.assertEqual(status, 403)
        status, _ = signed_request(self.stack.s3_endpoint, "GET", f"/{BUCKET}/blobs/{'a' * 64}", credentials)
        self.assertEqual(status, 404, "the right pair is answered (the blob does not exist)")


if __name__ == "__main__":
    unittest.main()
