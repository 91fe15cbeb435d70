"""Storage on S3 against an emulated bucket (moto's server): folders round-trip, a data set
under an S3 prefix is staged once per node however many trials ask at once, and an
unreachable prefix is one line naming the field, before any Ray work."""
import multiprocessing
import os

import numpy as np
import pytest

from distill.errors import ConfigError
from distill.remote_files import download, local_copy_path, remote_files, stage, upload
from s3_emulator import keys, s3_endpoint
from sweep_runner import cli_in_process

BUCKET = "distillery-test"


@pytest.fixture
def s3(monkeypatch, tmp_path):
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "cache"))
    with s3_endpoint(monkeypatch, (BUCKET,)) as client:
        yield client


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def test_s3_a_folder_round_trips_and_only_changed_files_are_sent_again(s3, tmp_path):
    local = tmp_path / "exp"
    write(str(local / "experiment.yaml"), "a: 1\n")
    write(str(local / "optuna.journal"), "{}\n")
    write(str(local / "tune" / "trial_0" / "result.json"), "{}")
    uri = f"s3://{BUCKET}/experiments/exp"
    sent = {}
    assert upload(str(local), uri, exclude=("tune/*",), sent=sent) == 2
    assert keys(s3, BUCKET) == ["experiments/exp/experiment.yaml", "experiments/exp/optuna.journal"]
    assert upload(str(local), uri, exclude=("tune/*",), sent=sent) == 0          # nothing changed
    write(str(local / "optuna.journal"), "{}\n{}\n")
    assert upload(str(local), uri, exclude=("tune/*",), sent=sent) == 1          # the journal grew

    copy = tmp_path / "copy"
    assert download(uri, str(copy)) == 2
    assert (copy / "optuna.journal").read_text() == "{}\n{}\n"
    assert download(uri, str(copy)) == 0
    assert set(remote_files(uri)) == {"experiment.yaml", "optuna.journal"}


def _stage_at_barrier(uri, cache, barrier, results):
    os.environ["DISTILL_CACHE"] = cache
    barrier.wait()
    path, copied = stage(uri, "datasets")
    with open(os.path.join(path, "part", "b.bin"), "rb") as fh:
        results.put((copied, path, fh.read()))


def test_s3_a_data_set_is_staged_once_per_node_under_two_concurrent_callers(s3, tmp_path):
    payload = os.urandom(3 << 20)   # several chunks: the copy takes a while
    s3.put_object(Bucket=BUCKET, Key="datasets/mnist/a.txt", Body=b"header")
    s3.put_object(Bucket=BUCKET, Key="datasets/mnist/part/b.bin", Body=payload)
    uri = f"s3://{BUCKET}/datasets/mnist"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_stage_at_barrier, args=(uri, os.environ["DISTILL_CACHE"], barrier, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert sorted(copied for copied, _, _ in outcomes) == [False, True]   # one copied, the other waited
    assert {path for _, path, _ in outcomes} == {local_copy_path(uri, "datasets")}
    assert all(data == payload for _, _, data in outcomes)
    assert stage(uri, "datasets")[1] is False                              # and later callers reuse it
    assert not os.path.exists(local_copy_path(uri, "datasets") + ".partial")


def _mnist_folder(folder, n_train=40, n_test=20):
    import gzip

    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array, magic in (("images-idx3", images, 2051), ("labels-idx1", labels, 2049)):
            header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
            with gzip.open(os.path.join(folder, f"{prefix}-{kind}-ubyte.gz"), "wb") as fh:
                fh.write(header + array.tobytes())


def test_s3_a_data_root_on_s3_is_read_from_the_staged_copy(s3, tmp_path):
    from distill.config import DataConfig
    from distill.data import load_splits

    folder = tmp_path / "mnist"
    folder.mkdir()
    _mnist_folder(str(folder))
    upload(str(folder), f"s3://{BUCKET}/datasets/mnist")
    splits = load_splits(DataConfig(name="mnist", root=f"s3://{BUCKET}/datasets/mnist"))
    assert len(splits.train) + len(splits.val) == 40 and len(splits.test) == 20
    assert os.path.isdir(local_copy_path(f"s3://{BUCKET}/datasets/mnist", "datasets"))


def test_s3_a_data_root_with_no_files_is_one_line_naming_data_root(s3):
    from distill.data.registry import local_root

    with pytest.raises(ConfigError) as err:
        local_root(f"s3://{BUCKET}/datasets/nothing-here")
    assert err.value.field == "data.root" and "holds no files" in str(err.value)


def test_s3_storage_in_a_bucket_that_does_not_exist_is_one_line_before_ray(s3):
    result = cli_in_process("platform.sweep", "dml_smoke", "--storage", "s3://no-such-bucket-here/experiments",
                            "--trials", "1")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--storage" in lines[0] and "no-such-bucket-here" in lines[0], result.stderr
