"""One validation path, proven: every check the trainer makes on a resolved config
is made first by the driver, with the same field and the same one-line message.

Each row of ``ROWS`` is one check: a small bad config (digits, resnet8/resnet14),
the field the error must name and the ``raise`` statement that must raise it (a
file and a fragment of that statement's source). For every row

(a) building ``Trainer(config_from_dict(raw))`` raises that ``ConfigError``, and
(b) the driver's ``check_trial_configs(raw, [{}], metrics)`` raises the same one,
    from the same ``raise`` statement, before any Ray work.

``test_every_raise_has_a_row`` parses ``distill/validation.py``, ``distill/trainer.py``,
``distill/methods/*.py`` and the two helpers validation reads files through
(``distill/checkpoint.py``, ``distill/teachers.py``) for ``raise ConfigError(`` and
fails for any statement no row (or listed exemption) covers: a new check needs a row.

Not rows, on purpose: ``train.device: cuda`` on a machine without a GPU
(``distill/runtime.py``) is the worker's business, the driver may run on a CPU-only
head node; a teacher with ``epochs`` not yet in its store is trained by the driver
before the trials (``test_an_untrained_store_teacher_is_left_to_the_driver``). Checks
on the data's contents stay with the trainer, since the driver does not read the data
sets: a CIFAR batch file that does not unpickle (``distill/data/cifar.py`` ``_read``),
unreadable Tiny ImageNet images, and fewer classes than ``data.classes_per_batch`` in a
``data.train_limit``-cut training split (``class_balanced_batches``, at the first epoch)."""
import ast
import copy
import dataclasses
import glob
import os
import traceback
from typing import Callable, Dict, List, Tuple

import pytest
import torch

import test_method_checks  # noqa: F401  (registers the stageless model test_stageless_mlp)
import test_retrieval_eval  # noqa: F401  (registers the retrieval data set test_retrieval_tiny)
from distill.checkpoint import save_checkpoint
from distill.config import config_from_dict
from distill.errors import ConfigError
from distill.methods import METHODS
from distill.methods.context import Needs
from distill.methods.independent import Independent
from distill.models import build_model
from distill.trainer import Trainer
from distill.validation import validate_run
from platform.experiment_run import check_trial_configs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCANNED = ["distill/validation.py", "distill/trainer.py", "distill/checkpoint.py", "distill/teachers.py",
           "distill/data/transfer.py"] + sorted(
    os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "distill", "methods", "*.py")))
# raise statements the driver leaves to a later moment by design: (file, fragment) -> why
EXEMPT = {
    ("distill/teachers.py", "is not trained"):
        "the driver trains a store teacher before any trial (see test_an_untrained_store_teacher_is_left_to_the_driver)",
    ("distill/teachers.py", "changed since teacher"):
        "needs a trained store entry whose file then changes (tests/test_teacher_store.py: "
        "test_a_stored_teacher_records_its_checkpoint_and_a_changed_file_is_one_line, and on --resume)",
}
ONE_NETWORK_METHOD = "test_walk_one_network"   # no registered method sets Needs.max_networks


# -- raise statements, read off the source ---------------------------------------
@dataclasses.dataclass(frozen=True)
class Site:
    file: str
    function: str
    first_line: int
    last_line: int
    source: str        # the raise statement
    condition: str     # the line before it (the ``if`` that guards it)

    def __str__(self) -> str:
        return f"{self.file}:{self.first_line} ({self.function})"


def raise_sites(relpath: str, only_config_error: bool = True) -> List[Site]:
    text = open(os.path.join(REPO, relpath)).read()
    lines = text.splitlines()
    sites: List[Site] = []

    def visit(node, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, f"{function}.{child.name}" if function else child.name)
                continue
            if isinstance(child, ast.Raise) and child.exc is not None:
                call = child.exc
                name = call.func.id if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) else None
                if not only_config_error or name == "ConfigError":
                    sites.append(Site(relpath, function or "<module>", child.lineno, child.end_lineno,
                                      ast.get_source_segment(text, child), lines[child.lineno - 2].strip()))
            visit(child, function)

    visit(ast.parse(text), "")
    return sites


def find_site(file: str, fragment: str) -> Site:
    matches = [s for s in raise_sites(file, only_config_error=False) if fragment in s.source or fragment in s.condition]
    assert len(matches) == 1, f"{fragment!r} names {len(matches)} raise statements in {file}, not one"
    return matches[0]


# -- files the rows point at --------------------------------------------------------
@dataclasses.dataclass
class Files:
    text: str          # a text file, not a checkpoint
    listing: str       # torch.save of a list
    resnet8: str       # state dicts for 10 classes, 1 channel (digits)
    resnet14: str
    resnet8_5: str     # ... for 5 classes
    resnet14_5: str
    engine: str        # an engine checkpoint holding network "net0" (resnet8)
    absent: str        # a path that does not exist
    store: str         # an empty teacher store


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    root = tmp_path_factory.mktemp("walk_files")
    text = root / "notes.pt"
    text.write_text("these are notes, not weights\n")
    torch.save([1, 2, 3], root / "list.pt")
    paths = {}
    for arch in ("resnet8", "resnet14"):
        for classes in (10, 5):
            path = root / f"{arch}_{classes}.pt"
            torch.save(build_model(arch, classes, in_channels=1).state_dict(), path)
            paths[arch, classes] = str(path)
    engine = save_checkpoint(str(root / "engine"),
                             {"epoch": 1, "networks": {"net0": build_model("resnet8", 10, 1).state_dict()}})
    (root / "store").mkdir()
    return Files(str(text), str(root / "list.pt"), paths["resnet8", 10], paths["resnet14", 10], paths["resnet8", 5],
                 paths["resnet14", 5], engine, str(root / "absent" / "weights.pt"), str(root / "store"))


@pytest.fixture(scope="module", autouse=True)
def one_network_method():
    """A method that takes at most one network: the only way to reach that check today."""
    cls = type("OneNetwork", (Independent,), {"needs": Needs(max_networks=1)})
    METHODS.register(ONE_NETWORK_METHOD)(cls)
    yield
    METHODS._entries.pop(ONE_NETWORK_METHOD)


# -- the table -----------------------------------------------------------------------
def cfg(method="independent", nets=("resnet8",), teacher=None, data=None, train=None, **extra) -> dict:
    """A small resolved config: digits, CPU, one epoch; ``nets`` are archs or network dicts."""
    method = {"name": method} if isinstance(method, str) else method
    networks = [n if isinstance(n, dict) else {"name": f"net{i}", "arch": n} for i, n in enumerate(nets)]
    raw = {"method": method, "networks": networks, "data": {"name": "digits", **(data or {})},
           "train": {"epochs": 1, "device": "cpu", "threads": 1, **(train or {})}}
    if teacher is not None:
        raw["teacher"] = {"name": "teacher", **teacher}
    raw.update(extra)
    return raw


def kd(f: Files, **teacher) -> dict:
    return cfg("kd", teacher={"arch": "resnet14", "checkpoint": f.resnet14, **teacher})


def market_folder(f: Files, fault: str) -> str:
    """A Market-1501 folder beside the walk's files with one fault: ``missing`` lacks
    bounding_box_test/, ``misnamed`` holds an image named outside the pattern, ``junk`` is
    no Market folder at all (a file and no subfolders)."""
    root = os.path.join(os.path.dirname(f.store), f"market_{fault}")
    if not os.path.isdir(root):
        os.makedirs(root)
        if fault == "junk":
            open(os.path.join(root, "notes.txt"), "w").close()
        else:
            for sub in ("bounding_box_train", "query") + (("bounding_box_test",) if fault == "misnamed" else ()):
                os.makedirs(os.path.join(root, sub))
        if fault == "misnamed":
            open(os.path.join(root, "query", "0001_c1_000151_01.jpg"), "wb").close()
    return root


@dataclasses.dataclass(frozen=True)
class Row:
    id: str
    config: Callable[[Files], dict]
    field: str
    site: Tuple[str, str]              # (file, fragment of the raise statement)
    metrics: Tuple[str, ...] = ()


STAGELESS = "test_stageless_mlp"
RETRIEVAL = test_retrieval_eval.TINY
ROWS = [
    # data
    Row("data.name unknown", lambda f: cfg(data={"name": "svhn"}), "data.name",
        ("distill/registry.py", "raise unknown_name(")),
    Row("cifar10 data.root does not exist", lambda f: cfg(data={"name": "cifar10", "root": f.absent}), "data.root",
        ("distill/data/cifar.py", "does not exist; expected torchvision")),
    Row("cifar10 without data.root", lambda f: cfg(data={"name": "cifar10"}), "data.root",
        ("distill/data/cifar.py", "needs data.root")),
    Row("market1501 folder without bounding_box_test",
        lambda f: cfg(data={"name": "market1501", "root": market_folder(f, "missing")}), "data.root",
        ("distill/data/market1501.py", "does not exist; expected")),
    Row("market1501 image named outside the pattern",
        lambda f: cfg(data={"name": "market1501", "root": market_folder(f, "misnamed")}), "data.root",
        ("distill/data/market1501.py", "does not match")),
    Row("market1501_smoke root holds other files",
        lambda f: cfg(data={"name": "market1501_smoke", "root": market_folder(f, "junk")}), "data.root",
        ("distill/data/generated_folder.py", "holds files but not")),
    Row("classes_per_batch above the class count", lambda f: cfg(data={"classes_per_batch": 11}),
        "data.classes_per_batch", ("distill/data/class_balanced.py", "the data set's")),
    Row("classes_per_batch above the batch size", lambda f: cfg(data={"classes_per_batch": 8, "batch_size": 4}),
        "data.classes_per_batch", ("distill/data/class_balanced.py", "is more than data.batch_size")),
    # networks and the teacher
    Row("duplicate network names", lambda f: cfg("dml", nets=[{"name": "a", "arch": "resnet8"}] * 2), "networks",
        ("distill/validation.py", "must be unique")),
    Row("networks[1].arch unknown", lambda f: cfg("dml", nets=("resnet8", "resnet9")), "networks[1].arch",
        ("distill/registry.py", "raise unknown_name(")),
    Row("teacher.arch unknown", lambda f: kd(f, arch="resnet15"), "teacher.arch",
        ("distill/registry.py", "raise unknown_name(")),
    Row("an MLP built for 28x28 on 8x8 digits", lambda f: cfg(nets=("hintonnet_student",)), "networks[0].arch",
        ("distill/validation.py", "is built for")),
    # the methods' check_config
    Row("dml with one network", lambda f: cfg("dml"), "networks", ("distill/methods/base.py", "needs at least")),
    Row("a one-network method with two", lambda f: cfg(ONE_NETWORK_METHOD, nets=("resnet8", "resnet8")), "networks",
        ("distill/methods/base.py", "takes at most")),
    Row("kd without a teacher", lambda f: cfg("kd"), "teacher.checkpoint",
        ("distill/methods/base.py", "needs a teacher {{arch")),
    Row("at without a teacher", lambda f: cfg("at"), "teacher.checkpoint",
        ("distill/methods/base.py", "needs a teacher {{arch")),
    Row("fsp stage channels unequal", lambda f: cfg("fsp", teacher={"arch": "wrn_16_2", "checkpoint": f.absent}),
        "teacher.arch", ("distill/methods/fsp.py", "equal channels")),
    Row("gradient AT's flip invariance on digits", lambda f: cfg({"name": "at_grad", "flip_weight": 1.0},
                                                                 teacher={"arch": "resnet14", "checkpoint": f.absent}),
        "method.flip_weight", ("distill/methods/at_grad.py", "not flip-symmetric")),
    Row("fitnet on a stageless student", lambda f: cfg("fitnet", nets=(STAGELESS,), teacher={"arch": "resnet14"}),
        "method.hint_stage", ("distill/methods/fitnet.py", "no stages to guide")),
    Row("fitnet hint_stage out of range",
        lambda f: cfg({"name": "fitnet", "hint_stage": 5}, teacher={"arch": "resnet14"}),
        "method.hint_stage", ("distill/methods/stage_pairs.py", "does not exist")),
    Row("at stages out of range", lambda f: cfg({"name": "at", "stages": [7]}, teacher={"arch": "resnet14"}),
        "method.stages", ("distill/methods/stage_pairs.py", "does not exist")),
    Row("sp stages out of range", lambda f: cfg({"name": "sp", "stages": [-4]}, teacher={"arch": "resnet14"}),
        "method.stages", ("distill/methods/stage_pairs.py", "does not exist")),
    Row("ksanc stages out of range", lambda f: cfg({"name": "ksanc", "stages": [3]}, teacher={"arch": "resnet14"}),
        "method.stages", ("distill/methods/stage_pairs.py", "does not exist")),
    Row("at on a stageless student", lambda f: cfg("at", nets=(STAGELESS,), teacher={"arch": "resnet14"}),
        "method.stages", ("distill/methods/stage_pairs.py", "expose no stages")),
    Row("byot exits on a stageless model", lambda f: cfg("byot", nets=(STAGELESS,)), "networks[0].arch",
        ("distill/methods/exit_heads.py", "stage(s)")),
    Row("scd exits on a stageless model", lambda f: cfg("scd", nets=("resnet8", STAGELESS)), "networks[1].arch",
        ("distill/methods/exit_heads.py", "stage(s)")),
    Row("one branches on a stageless model", lambda f: cfg("one", nets=(STAGELESS,)), "networks[0].arch",
        ("distill/methods/exit_heads.py", "stage(s)")),
    Row("sad on a stageless model", lambda f: cfg("sad", nets=(STAGELESS,)), "networks[0].arch",
        ("distill/methods/exit_heads.py", "stage(s)")),
    Row("scd stage out of range", lambda f: cfg({"name": "scd", "stages": [0, 3]}), "method.stages",
        ("distill/methods/scd.py", "does not exist")),
    Row("scd one stage", lambda f: cfg({"name": "scd", "stages": [-1, 2]}), "method.stages",
        ("distill/methods/scd.py", "two or more distinct")),
    Row("cs_kd with classes_per_batch", lambda f: cfg("cs_kd", data={"classes_per_batch": 2}),
        "data.classes_per_batch", ("distill/methods/cs_kd.py", "same-class partner")),
    Row("cs_kd with batch size 1", lambda f: cfg("cs_kd", data={"batch_size": 1}), "data.batch_size",
        ("distill/methods/cs_kd.py", "a batch of 2 or more")),
    Row("tadml real_peer not a network", lambda f: cfg({"name": "tadml", "disc_mode": "fixed_real", "real_peer": "net7"},
                                                       nets=("resnet8", "resnet8")),
        "method.real_peer", ("distill/methods/tadml.py", "is not a network")),
    Row("hksanc no scales", lambda f: cfg({"name": "hksanc", "scales": []}, teacher={"arch": "resnet14"}),
        "method.scales", ("distill/methods/hksanc.py", "non-empty list")),
    Row("darkrank list_length not below the batch size",
        lambda f: cfg({"name": "darkrank", "soft_weight": 1.0, "list_length": 4}, teacher={"arch": "resnet14"},
                      data={"batch_size": 4}),
        "method.list_length", ("distill/methods/darkrank.py", "needs a batch of more than")),
    Row("meta_data teacher without recorded statistics",
        lambda f: cfg("meta_data", teacher={"arch": "resnet14", "checkpoint": f.resnet14}), "teacher",
        ("distill/methods/meta_data.py", "has no recorded activation statistics")),
    Row("meta_data stats_file not statistics",
        lambda f: cfg({"name": "meta_data", "stats_file": f.listing}, teacher={"arch": "resnet14",
                                                                              "checkpoint": f.resnet14}),
        "method.stats_file", ("distill/methods/meta_data.py", "is not a teacher's logits statistics")),
    # the sweep's metric
    Row("metric not reported", lambda f: cfg(), "metric", ("distill/validation.py", "is not reported by method"),
        metrics=("val_acc.net0.exit1",)),
    Row("metric of an exit that does not exist", lambda f: cfg("byot"), "metric",
        ("distill/validation.py", "is not reported by method"), metrics=("val_acc.net0", "val_acc.net0.exit4")),
    # the data set's task (retrieval: person ids, cameras, query flags)
    Row("a classification metric on retrieval data", lambda f: cfg(data={"name": RETRIEVAL}), "metric",
        ("distill/validation.py", "is not reported by method"), metrics=("val_acc.net0",)),
    Row("exit accuracy on retrieval data", lambda f: cfg("byot", data={"name": RETRIEVAL}), "method.name",
        ("distill/validation.py", "without metrics of its own")),
    Row("flip averaging on classification data", lambda f: cfg(data={"eval_flip": True}), "data.eval_flip",
        ("distill/validation.py", "whose evaluator averages")),
    Row("a network named concat on retrieval data",
        lambda f: cfg("dml", nets=[{"name": "net0", "arch": "resnet8"}, {"name": "concat", "arch": "resnet8"}],
                      data={"name": RETRIEVAL}),
        "networks", ("distill/validation.py", "twice; allowed: any other name")),
    # checkpoints
    Row("networks[0].checkpoint a text file", lambda f: cfg(nets=[{"name": "net0", "arch": "resnet8",
                                                                   "checkpoint": f.text}]),
        "networks[0].checkpoint", ("distill/checkpoint.py", "is not a PyTorch checkpoint")),
    Row("teacher.checkpoint a text file", lambda f: kd(f, checkpoint=f.text), "teacher.checkpoint",
        ("distill/checkpoint.py", "is not a PyTorch checkpoint")),
    Row("networks[0].checkpoint holds a list", lambda f: cfg(nets=[{"name": "net0", "arch": "resnet8",
                                                                    "checkpoint": f.listing}]),
        "networks[0].checkpoint", ("distill/checkpoint.py", "not a checkpoint or state dict")),
    Row("networks[0].checkpoint not found", lambda f: cfg(nets=[{"name": "net0", "arch": "resnet8",
                                                                 "checkpoint": f.absent}]),
        "networks[0].checkpoint", ("distill/checkpoint.py", "checkpoint not found")),
    Row("teacher.checkpoint not found", lambda f: kd(f, checkpoint=f.absent), "teacher.checkpoint",
        ("distill/checkpoint.py", "checkpoint not found")),
    Row("networks[0].checkpoint names a network it lacks",
        lambda f: cfg(nets=[{"name": "net0", "arch": "resnet8", "checkpoint": f.engine + "#net9"}]),
        "networks[0].checkpoint", ("distill/checkpoint.py", "has no network")),
    Row("networks[0].checkpoint of a shallower arch", lambda f: cfg(nets=[{"name": "net0", "arch": "resnet14",
                                                                           "checkpoint": f.resnet8}]),
        "networks[0].checkpoint", ("distill/validation.py", "(missing")),
    Row("teacher.checkpoint of a shallower arch", lambda f: kd(f, checkpoint=f.resnet8), "teacher.checkpoint",
        ("distill/validation.py", "(missing")),
    Row("networks[0].checkpoint of a deeper arch", lambda f: cfg(nets=[{"name": "net0", "arch": "resnet8",
                                                                        "checkpoint": f.resnet14}]),
        "networks[0].checkpoint", ("distill/validation.py", "(unexpected")),
    Row("teacher.checkpoint of a deeper arch", lambda f: kd(f, arch="resnet8", checkpoint=f.resnet14),
        "teacher.checkpoint", ("distill/validation.py", "(unexpected")),
    Row("networks[0].checkpoint for 5 classes", lambda f: cfg(nets=[{"name": "net0", "arch": "resnet8",
                                                                     "checkpoint": f.resnet8_5}]),
        "networks[0].checkpoint", ("distill/validation.py", "has shape")),
    Row("teacher.checkpoint for 5 classes", lambda f: kd(f, checkpoint=f.resnet14_5), "teacher.checkpoint",
        ("distill/validation.py", "has shape")),
    Row("teacher with neither checkpoint nor epochs", lambda f: kd(f, checkpoint=None), "teacher.checkpoint",
        ("distill/validation.py", "needs a trained teacher")),
    Row("teacher by epochs without a store", lambda f: kd(f, checkpoint=None, epochs=1), "teacher.store",
        ("distill/teachers.py", "needs a store folder")),
    # typed fields, checked when the config is parsed
    Row("train.epochs negative", lambda f: cfg(train={"epochs": -1}), "train.epochs",
        ("distill/typed_dict.py", "must be >= ")),
    Row("method.temperature 0", lambda f: cfg({"name": "dml", "temperature": 0}, nets=("resnet8", "resnet8")),
        "method.temperature", ("distill/typed_dict.py", "must be > ")),
    Row("tadml disc_structure malformed", lambda f: cfg({"name": "tadml", "disc_structure": "128-x"},
                                                        nets=("resnet8", "resnet8")),
        "method.disc_structure", ("distill/adversarial/discriminator.py", "if not match:")),
    Row("no networks", lambda f: cfg(nets=()), "networks", ("distill/config.py", "at least one network")),
    Row("method.name unknown", lambda f: cfg("kdd"), "method.name", ("distill/registry.py", "raise unknown_name(")),
    # data-free learning and the transfer set
    Row("dafl without a teacher", lambda f: cfg("dafl"), "teacher", ("distill/methods/dafl.py", "needs a trained teacher")),
    Row("dafl on non-square images", lambda f: cfg("dafl", teacher={"arch": "resnet14", "checkpoint": f.resnet14},
                                                   data={"name": "market1501_smoke"}),
        "data.name", ("distill/methods/dafl.py", "makes square images")),
    Row("dafl generator size against the teacher's input",
        lambda f: cfg({"name": "dafl", "image_size": 32}, teacher={"arch": "resnet14", "checkpoint": f.resnet14}),
        "method.image_size", ("distill/methods/dafl.py", "do not fit")),
    Row("transfer set of another image size", lambda f: dict(kd(f), data={"name": "digits", "transfer": "usps"}),
        "data.transfer", ("distill/data/transfer.py", "images, {data_cfg.name}")),
    Row("transfer set for a method without real data",
        lambda f: cfg("dafl", teacher={"arch": "resnet14", "checkpoint": f.resnet14},
                      data={"name": "digits", "transfer": "digits"}),
        "data.transfer", ("distill/data/transfer.py", "reads no training images")),
    Row("transfer set for a method reading labels", lambda f: cfg(data={"name": "digits", "transfer": "digits"}),
        "data.transfer", ("distill/data/transfer.py", "reads the training labels")),
]


# -- the walk ------------------------------------------------------------------------
def raised(call) -> Tuple[ConfigError, str, int]:
    """The ConfigError ``call`` raises and where its raise statement is (file, line)."""
    with pytest.raises(ConfigError) as info:
        call()
    frame = traceback.extract_tb(info.tb)[-1]
    return info.value, os.path.relpath(frame.filename, REPO), frame.lineno


def build_trainer(raw: dict, metrics, output_dir: str):
    if metrics:
        # the trainable never sees the sweep's metric (Tune reads it off the reports):
        # the engine's own check is validate_run(metrics=), what the trainer runs
        return validate_run(config_from_dict(raw), metrics=metrics)
    return Trainer(config_from_dict(raw), output_dir=output_dir)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_driver_catches_the_trainers_check_first(row, files, tmp_path):
    raw = row.config(files)
    site = find_site(*row.site)
    trainer_error, file, line = raised(lambda: build_trainer(copy.deepcopy(raw), row.metrics, str(tmp_path / "run")))
    assert trainer_error.field == row.field, str(trainer_error)
    assert (file, site.first_line <= line <= site.last_line) == (site.file, True), \
        f"raised at {file}:{line}, the row names {site}"
    driver_error, file, line = raised(lambda: check_trial_configs(copy.deepcopy(raw), [{}], list(row.metrics)))
    assert driver_error.field == row.field, str(driver_error)
    assert (file, site.first_line <= line <= site.last_line) == (site.file, True), \
        f"driver raised at {file}:{line}, the row names {site}"
    assert str(driver_error) == str(trainer_error)
    assert "\n" not in str(driver_error) and str(driver_error).startswith(f"{row.field}: ")
    assert not os.path.exists(tmp_path / "run"), "the trainer wrote before its checks"


def test_the_rows_are_faults_of_good_configs(files, tmp_path):
    """The configs the rows change pass both checks, so each row fails for its change alone."""
    for n, raw in enumerate([cfg(), kd(files), cfg("fitnet", teacher={"arch": "resnet14", "checkpoint": files.resnet14}),
                             cfg("byot"), cfg({"name": "scd", "stages": [0, 2]}),
                             cfg(nets=[{"name": "net0", "arch": "resnet8", "checkpoint": files.engine + "#net0"}])]):
        check_trial_configs(copy.deepcopy(raw), [{}], ["val_acc.net0"])
        Trainer(config_from_dict(raw), output_dir=str(tmp_path / str(n)))


def test_an_untrained_store_teacher_is_left_to_the_driver(files, tmp_path):
    """The one trainer check the driver accepts: a teacher with ``epochs`` not yet in its
    store, which the driver trains before any trial (``ensure_teachers``)."""
    raw = kd(files, checkpoint=None, epochs=1, store=files.store)
    check_trial_configs(copy.deepcopy(raw), [{}], ["val_acc.net0"])
    error, file, line = raised(lambda: Trainer(config_from_dict(raw), output_dir=str(tmp_path)))
    site = find_site("distill/teachers.py", "is not trained")
    assert error.field == "teacher.checkpoint" and file == site.file and site.first_line <= line <= site.last_line


def test_every_raise_has_a_row():
    """Every ``raise ConfigError(`` of the trainer's validation code is some row's site (or
    exempt with a reason): a new check without a row fails here."""
    sites = []
    for relpath in SCANNED:
        found = raise_sites(relpath)
        text = open(os.path.join(REPO, relpath)).read()
        assert len(found) == text.count("raise ConfigError("), f"{relpath}: the parse missed a raise statement"
        sites += found
    assert len(sites) > 20
    covered: Dict[Site, List[str]] = {}
    for row in ROWS:
        covered.setdefault(find_site(*row.site), []).append(row.id)
    for key in EXEMPT:
        covered.setdefault(find_site(*key), []).append("exempt")
    missing = [f"{s}: {s.source.splitlines()[0].strip()}" for s in sites if s not in covered]
    assert not missing, "raise statements without a row in ROWS:\n" + "\n".join(missing)
