"""The W&B quickstarts this project follows, and a W&B training script, run unchanged but for the import."""

import os
import subprocess
import sys
import textwrap
import unittest

from helpers import HERE, StackTestCase

import mreg

MODEL_REGISTRY_QUICKSTART = """
import mreg as wandb
import random

# 새로운 W&B run 시작
run = wandb.init(project="models_quickstart")

# 모델 메트릭 로깅 시뮬레이션
run.log({"acc": random.random()})

# 시뮬레이션된 모델 파일 생성
with open("my_model.h5", "w") as f:
    f.write("Model: " + str(random.random()))

# 모델을 Model Registry에 로깅하고 연결
run.link_model(path="./my_model.h5", registered_model_name="MNIST")

run.finish()
"""

REGISTRY_QUICKSTART = """
import mreg as wandb
import random

# 새로운 W&B run을 시작하여 실험을 추적합니다
run = wandb.init(project="registry_quickstart") 

# 모델 메트릭을 로그하도록 시뮬레이션합니다
run.log({"acc": random.random()})

# 시뮬레이션된 모델 파일을 생성합니다
with open("my_model.txt", "w") as f:
   f.write("Model: " + str(random.random()))

# W&B Registry 내부의 모델 레지스트리에 모델을 로그하고 연결합니다
logged_artifact = run.log_artifact(artifact_or_path="./my_model.txt", name="gemma-finetuned-3twsov9e", type="model")
run.link_artifact(artifact=logged_artifact, target_path=f"<INSERT-ORG-NAME>/wandb-registry-model/registry-quickstart-collection"),

run.finish()
"""


class Scripts(StackTestCase):
    def run_script(self, source: str) -> subprocess.CompletedProcess:
        path = os.path.join(self.work, "script.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(source)
        env = {**os.environ, "PYTHONPATH": os.path.dirname(HERE)}
        result = subprocess.run([sys.executable, path], cwd=self.work, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def test_the_model_registry_quickstart(self):
        self.run_script(MODEL_REGISTRY_QUICKSTART)
        linked = self.stack.api("GET", "/v1/registries/model/collections/MNIST/versions/latest")[1]
        self.assertEqual(linked["source"]["project"], "models_quickstart")
        self.assertTrue(linked["source"]["artifact"].endswith("-my_model.h5"))
        files = mreg.Api().artifact("@model/MNIST:latest").download("check")
        with open(os.path.join(files, "my_model.h5")) as handle, open("my_model.h5") as original:
            self.assertEqual(handle.read(), original.read())
        run_id = linked["source"]["artifact"][len("run-") : -len("-my_model.h5")]
        summary = mreg.Api().run(f"models_quickstart/{run_id}").summary
        self.assertEqual(set(summary), {"acc"})

    def test_the_registry_quickstart(self):
        self.run_script(REGISTRY_QUICKSTART)
        linked = self.stack.api("GET", "/v1/registries/model/collections/registry-quickstart-collection/versions/latest")[1]
        self.assertEqual(linked["source"], {**linked["source"], "project": "registry_quickstart", "artifact": "gemma-finetuned-3twsov9e"})

    def test_a_wandb_training_script(self):
        readme = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "README.md")
        with open(readme, encoding="utf-8") as handle:
            text = handle.read()
        start = text.index("<!-- python-training-script:start -->")
        end = text.index("<!-- python-training-script:end -->")
        block = text[start:end].split("```python", 1)[1].split("```", 1)[0]
        result = self.run_script(textwrap.dedent(block))
        self.assertIn("validated @model/digits-classifier:v0", result.stdout)
        self.assertIn("best val_acc", result.stdout)
        version = self.stack.api("GET", "/v1/registries/model/collections/digits-classifier/versions/staging")[1]
        source = version["source"]
        lineage = self.stack.api("GET", f"/v1/projects/{source['project']}/artifacts/{source['artifact']}/versions/{source['version']}/lineage?direction=both&depth=3")[1]
        kinds = {e["kind"] for e in lineage["edges"]}
        runs = [n for n in lineage["nodes"] if n["kind"] == "run"]
        # Up: the training run that produced it, its dataset, the run that prepared that; down: the evaluation.
        self.assertEqual(len(runs), 3, lineage)
        self.assertEqual(kinds, {"input", "output"})
        self.assertIn("version:digits/digits-train:v0", [n["id"] for n in lineage["nodes"]])


if __name__ == "__main__":
    unittest.main()
