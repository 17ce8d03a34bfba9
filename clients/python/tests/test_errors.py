"""Errors: one hierarchy carrying the registry's message, never a raw urllib traceback."""

import os
import unittest

from helpers import StackTestCase, write

import mreg
from mreg import errors


class Errors(StackTestCase):
    def test_bad_references_are_refused_before_any_request(self):
        with mreg.init(project="errs") as run:
            for bad in ["", "a/b/c/d", "@model", "@model/x/y", "name:", "-bad/name", "proj/na me", "x:v 1"]:
                with self.subTest(ref=bad), self.assertRaises(errors.InvalidRequest):
                    run.use_artifact(bad)
            for target in ["model", "a/b/c", "@model/x:v1", "org/wandb-registry-/x"]:
                with self.subTest(target=target), self.assertRaises(errors.InvalidRequest):
                    run.link_artifact("whatever:v0", target)

    def test_what_does_not_exist_is_not_found_with_the_registry_message(self):
        with mreg.init(project="errs") as run:
            with self.assertRaises(errors.NotFound) as caught:
                run.use_model("no-such-model:latest")
            self.assertEqual(caught.exception.status, 404)
            self.assertIn("no-such-model", str(caught.exception))
            with self.assertRaises(errors.NotFound):
                run.use_artifact("@model/no-such-collection:production")
            with self.assertRaises(errors.NotFound):
                run.use_artifact("@no-such-registry/x")
            write("w.bin", b"w")
            run.log_model("w.bin", name="exists")
            with self.assertRaises(errors.NotFound):
                run.use_model("exists:v7")
        with self.assertRaises(errors.NotFound):
            mreg.Api().run("errs/never-ran")

    def test_missing_permissions_are_permission_denied(self):
        viewer = self.new_user("vic", "viewer")
        member = self.new_user("mia", "member")
        write("w.bin", b"weights")
        os.environ["MREG_API_KEY"] = viewer
        with self.assertRaises(errors.PermissionDenied) as caught:
            mreg.init(project="errs")
        self.assertEqual(caught.exception.status, 403)
        os.environ["MREG_API_KEY"] = member
        with mreg.init(project="errs") as run:
            logged = run.log_model("w.bin", name="guarded")
            # An org member only views an organization registry until made its member.
            with self.assertRaises(errors.PermissionDenied) as viewer_only:
                run.link_artifact(logged, "@model/guarded")
            self.assertIn("viewer", str(viewer_only.exception))
            self.assertEqual(self.stack.api("PUT", "/v1/registries/model/members/mia", {"role": "member"})[0], 200)
            run.link_artifact(logged, "@model/guarded", aliases=["staging"])
            with self.assertRaises(errors.PermissionDenied) as protected:
                run.link_artifact(logged, "@model/guarded", aliases=["production"])
            self.assertIn("production", str(protected.exception))
        os.environ["MREG_API_KEY"] = "mreg_not-a-key"
        with self.assertRaises(errors.PermissionDenied) as unknown:
            mreg.Api().artifact("errs/guarded:latest")
        self.assertEqual(unknown.exception.status, 401)

    def test_no_key_and_no_registry_are_reported_plainly(self):
        os.environ.pop("MREG_API_KEY")
        with self.assertRaises(errors.PermissionDenied) as no_key:
            mreg.Api()
        self.assertIn("MREG_API_KEY", str(no_key.exception))
        os.environ["MREG_API_KEY"] = self.stack.admin_key
        os.environ["MREG_URL"] = "http://127.0.0.1:9"
        with self.assertRaises(errors.ServerError) as unreachable:
            mreg.init(project="errs")
        self.assertIn("cannot reach the registry", str(unreachable.exception))

    def test_conflicts_and_invalid_requests(self):
        status, _ = self.stack.api("POST", "/v1/registries", {"name": "model"})
        self.assertEqual(status, 409)
        with mreg.init(project="errs") as run:
            with self.assertRaises(errors.InvalidRequest):
                run.log_model("missing-dir", name="x")
            write("w.bin", b"w")
            with self.assertRaises(errors.InvalidRequest):
                run.log_model("w.bin", name="x", aliases=["v3"])
            # W&B's habit of asking for latest, which the registry moves by itself: not an error here.
            logged = run.log_model("w.bin", name="x", aliases=["latest", "best"])
            self.assertEqual(sorted(logged.aliases), ["best", "latest"])
            with self.assertRaises(errors.InvalidRequest):
                run.log({"x": 1}, step=-1)
        self.assertTrue(issubclass(errors.Conflict, errors.MregError))
        self.assertTrue(issubclass(errors.TransferError, mreg.MregError))

    def test_the_saved_login_of_the_node_cli_is_used(self):
        config = os.path.join(self.work, "config.json")
        with open(config, "w") as handle:
            handle.write('{"url": "%s", "apiKey": "%s"}' % (self.stack.url, self.stack.admin_key))
        os.environ.pop("MREG_API_KEY")
        os.environ.pop("MREG_URL")
        os.environ["MREG_CONFIG"] = config
        with mreg.init(project="errs") as run:
            self.assertEqual(run.project, "errs")


if __name__ == "__main__":
    unittest.main()
