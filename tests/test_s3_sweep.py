"""A sweep whose storage is an S3 bucket (emulated by moto's server, reached by the driver,
Tune and the Ray workers through ``AWS_ENDPOINT_URL``): trials.parquet, the Optuna journal's
copy and the experiment's record land in the bucket, an exported config and a report are
written back to it, and after the head's disk is lost (a fresh local cache) ``--resume``
finds the experiment and its journal in the bucket."""
import io
import os

import pyarrow.parquet as pq
import pytest
import yaml

from s3_emulator import keys, s3_endpoint
from sweep_runner import cli

pytestmark = pytest.mark.slow

BUCKET = "distillery-test"
TRIVIAL = ["--set", "train.epochs=1", "--set", "data.train_limit=64", "--set", "train.eval_test=false"]


def test_s3_storage_round_trips_a_sweep_its_journal_an_export_and_a_resume(monkeypatch, tmp_path):
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "head-disk"))
    with s3_endpoint(monkeypatch, (BUCKET,)) as s3:
        storage = f"s3://{BUCKET}/experiments"
        run = cli("platform.sweep", "dml_smoke", "--trials", "2", "--num-cpus", "1", "--storage", storage, *TRIVIAL,
                  "--name", "dml-on-s3")
        assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        uri = f"{storage}/dml-on-s3"
        assert f"experiment on {uri}" in run.stdout
        stored = keys(s3, BUCKET, "experiments/dml-on-s3/")
        for name in ("experiment.yaml", "optuna.journal", "trials.parquet", "best_config.yaml"):
            assert f"experiments/dml-on-s3/{name}" in stored, stored
        assert any(k.startswith("experiments/dml-on-s3/tune/") for k in stored)   # Tune wrote its part there
        configs = [k for k in stored if k.endswith("/resolved_config.yaml")]   # beside each trial's results
        assert len(configs) == 2, stored
        resolved = yaml.safe_load(s3.get_object(Bucket=BUCKET, Key=configs[0])["Body"].read())
        assert resolved["method"]["name"] == "dml" and resolved["train"]["epochs"] == 1
        rows = pq.read_table(f"{uri}/trials.parquet").to_pylist()   # pyarrow's S3 file system reads it
        assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
        journal = s3.get_object(Bucket=BUCKET, Key="experiments/dml-on-s3/optuna.journal")["Body"].read()
        assert journal.count(b"\n") >= 2   # the study's records, with both trials told

        export = cli("platform.export", uri, "--top", "1", "--out", f"s3://{BUCKET}/best/dml")
        assert export.returncode == 0, export.stderr[-3000:]
        [exported] = keys(s3, BUCKET, "best/dml/")
        config = yaml.safe_load(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=exported)["Body"].read()))
        assert config["method"]["name"] == "dml" and config["train"]["epochs"] == 1

        report = cli("platform.report", uri)
        assert report.returncode == 0, report.stderr[-3000:]
        assert len(keys(s3, BUCKET, "experiments/dml-on-s3/")) > len(stored)   # the report's files went back

        # the head is replaced: nothing of the experiment on its disk any more
        monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "new-head-disk"))
        resumed = cli("platform.sweep", "dml_smoke", "--resume", "--name", "dml-on-s3",
                      "--num-cpus", "1", "--storage", storage)
        assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-4000:]
        local = os.path.join(str(tmp_path / "new-head-disk"), "experiments", "s3", BUCKET, "experiments", "dml-on-s3")
        assert os.path.getsize(os.path.join(local, "optuna.journal")) == len(journal)   # the journal came back
        again = pq.read_table(f"{uri}/trials.parquet").to_pylist()
        assert sorted(r["trial_id"] for r in again) == sorted(r["trial_id"] for r in rows)   # nothing ran twice


def test_s3_teachers_are_trained_once_into_the_bucket_and_staged_by_every_later_run(monkeypatch, tmp_path):
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "head-disk"))
    with s3_endpoint(monkeypatch, (BUCKET,)) as s3:
        storage = f"s3://{BUCKET}/experiments"
        small = ["--set", "train.epochs=1", "--set", "data.train_limit=64", "--set", "teacher.epochs=1",
                 "--set", "train.eval_test=false"]
        first = cli("platform.sweep", "kd_temperature", "--preset", "smoke", "--trials", "1", "--num-cpus", "1",
                    "--storage", storage, *small)
        assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
        assert "training teacher resnet14" in first.stdout
        stored = keys(s3, BUCKET, "experiments/teachers/")
        [entry] = [k for k in stored if k.endswith("/teacher.yaml")]
        folder = entry[:-len("teacher.yaml")]
        assert f"{folder}checkpoint/checkpoint.pt" in stored
        recorded = yaml.safe_load(s3.get_object(Bucket=BUCKET, Key=entry)["Body"].read())
        assert recorded["checkpoint"] == f"s3://{BUCKET}/{folder}checkpoint/checkpoint.pt"

        # another head (nothing on its disk): the teacher is found in the bucket, staged, not trained again
        monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "other-head"))
        second = cli("platform.sweep", "kd_temperature", "--preset", "smoke", "--trials", "1", "--num-cpus", "1",
                     "--storage", storage, *small)
        assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
        assert "reusing teacher resnet14" in second.stdout and "training teacher" not in second.stdout
        assert os.path.isfile(os.path.join(str(tmp_path / "other-head"), "teachers", "s3", BUCKET, *folder.split("/"),
                                           "checkpoint", "checkpoint.pt"))
