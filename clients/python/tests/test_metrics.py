"""run.log, run.summary and the metric history, through the registry."""

import unittest

from helpers import StackTestCase

import mreg


class Metrics(StackTestCase):
    def test_log_steps_like_wandb_and_summary_reads_the_last_values_back(self):
        with mreg.init(project="metrics", config={"lr": 0.1}) as run:
            run.log({"loss": 1.0, "acc": 0.5})  # step 0
            run.log({"loss": 0.8})  # step 1
            run.log({"loss": 0.6}, commit=False)
            run.log({"acc": 0.7})  # step 2: both
            run.log({"loss": 0.2, "nested": {"top1": 0.9}, "note": "text"}, step=10)
            run.log({"loss": 9.9}, step=3)  # behind the current step: dropped, as W&B does
            self.assertEqual(run.step, 11)
            self.assertEqual(dict(run.summary), {"loss": 0.2, "acc": 0.7, "nested.top1": 0.9})
            run.summary["best_acc"] = 0.95
            self.assertEqual(run.summary["best_acc"], 0.95)
            run.config.epochs = 3
            run_id = run.id
        info = mreg.Api().run(f"metrics/{run_id}")
        self.assertEqual(info.config, {"lr": 0.1, "epochs": 3})
        self.assertEqual(info.summary["loss"], 0.2)
        self.assertEqual(info.history("loss"), [{"step": 0, "value": 1.0}, {"step": 1, "value": 0.8}, {"step": 2, "value": 0.6}, {"step": 10, "value": 0.2}])
        self.assertEqual(info.history("acc"), [{"step": 0, "value": 0.5}, {"step": 2, "value": 0.7}])

    def test_many_steps_and_keys_are_batched_within_the_registry_limits(self):
        with mreg.init(project="metrics") as run:
            for step in range(2500):
                run.log({"loss": 1 / (step + 1), **({f"layer{i}/grad": float(i) for i in range(150)} if step == 0 else {})})
            run_id = run.id
        info = mreg.Api().run(f"metrics/{run_id}")
        self.assertEqual(len(info.summary), 151)
        history = mreg.Api()._client.api.get(f"/v1/projects/metrics/runs/{run_id}/metrics", {"key": "loss"})
        self.assertEqual(history["count"], 2500)
        self.assertEqual(history["points"][-1], {"step": 2499, "value": 1 / 2500})

    def test_the_run_id_comes_from_mreg_run_id_and_a_versions_run_is_comparable_by_its_metrics(self):
        import os

        os.environ["MREG_RUN_ID"] = "ci-job-42"
        with open("w.bin", "wb") as handle:
            handle.write(b"weights")
        with mreg.init(project="metrics") as run:
            self.assertEqual(run.id, "ci-job-42")
            run.log({"acc": 0.93})
            logged = run.log_model("w.bin", name="compared")
        lineage = self.stack.api("GET", f"/v1/projects/metrics/artifacts/compared/versions/{logged.version}/lineage?direction=up&depth=1")[1]
        producer = [n for n in lineage["nodes"] if n["kind"] == "run"][0]
        self.assertEqual(producer["run"], "ci-job-42")
        self.assertEqual(mreg.Api().run(f"metrics/{producer['run']}").summary, {"acc": 0.93})
        # The same, from the version: W&B's artifact.logged_by(), through the registry too.
        self.assertEqual(mreg.Api().artifact(f"metrics/compared:{logged.version}").logged_by().summary, {"acc": 0.93})
        with mreg.init(project="metrics") as other:
            other.link_artifact(logged, "@model/compared")
        self.assertEqual(mreg.Api().artifact("@model/compared:latest").logged_by().id, "ci-job-42")

    def test_a_script_that_never_finishes_still_sends_its_metrics_and_a_new_init_finishes_the_previous_run(self):
        import subprocess
        import sys

        from helpers import HERE

        script = "import mreg\nrun = mreg.init(project='metrics', id='unfinished')\nfor i in range(5): run.log({'loss': i})\n"
        import os

        env = {**os.environ, "PYTHONPATH": os.path.dirname(HERE)}
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
        self.assertEqual(mreg.Api().run("metrics/unfinished").summary, {"loss": 4})
        first = mreg.init(project="metrics")
        first.log({"a": 1})
        second = mreg.init(project="metrics")
        self.assertIs(mreg.run, second)
        self.assertEqual(mreg.Api().run(f"metrics/{first.id}").summary, {"a": 1})
        second.finish()

    def test_module_level_functions_act_on_the_current_run(self):
        run = mreg.init(project="metrics")
        self.assertIs(mreg.run, run)
        mreg.log({"x": 1})
        mreg.config["k"] = "v"
        mreg.finish()
        self.assertIsNone(mreg.run)
        with self.assertRaises(mreg.errors.InvalidRequest):
            run.log({"x": 2})


if __name__ == "__main__":
    unittest.main()
