"""``EXPERIMENT/report/index.html``: one self-contained page per experiment (plots inline as
data URIs, no script or style from the network, opens from disk). What ran (command, commit,
preset, machine, wall time), the report's tables and text as they are in its Markdown files,
every plot, the best configurations with the command that re-runs each, every trial with its
status and error, and the commands that open the experiment in TensorBoard and Optuna's
dashboard. Rendered by a Jinja2 template with autoescaping: a value from a config or an error
message is shown as text, never interpreted."""
import base64
import os
import re
import time
from typing import Any, Dict, List

PAGE_FILE = "index.html"
TEMPLATE = "report.html.j2"
MARKDOWN_ORDER = ("table.md", "heads.md", "generated.md")
IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)$")


def _image_block(path: str, alt: str) -> Dict[str, str]:
    with open(path, "rb") as fh:
        return {"kind": "image", "alt": alt, "data": base64.b64encode(fh.read()).decode("ascii")}


def _cells(line: str) -> List[str]:
    return [c.strip().replace("\\*", "*") for c in line.strip().strip("|").split("|")]


def markdown_blocks(text: str, folder: str, used_images: set) -> List[Dict[str, Any]]:
    """The Markdown our reports write, as page blocks: pipe tables, images, fenced code, paragraphs."""
    blocks: List[Dict[str, Any]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
            header, rows = _cells(line), []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            blocks.append({"kind": "table", "header": header, "rows": rows})
            continue
        if line.startswith("```"):
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append({"kind": "pre", "text": "\n".join(body)})
        elif IMAGE.match(line):
            match = IMAGE.match(line)
            path = os.path.join(folder, match.group("src"))
            if os.path.isfile(path):
                blocks.append(_image_block(path, match.group("alt")))
                used_images.add(os.path.abspath(path))
        elif line:
            blocks.append({"kind": "text", "text": line.lstrip("#").strip().replace("**", "").replace("\\*", "*")})
        i += 1
    return blocks


def _sections(out_dir: str) -> List[Dict[str, Any]]:
    used: set = set()
    sections = []
    names = [n for n in MARKDOWN_ORDER if os.path.isfile(os.path.join(out_dir, n))]
    names += sorted(n for n in os.listdir(out_dir) if n.endswith(".md") and n not in names)
    for name in names:
        with open(os.path.join(out_dir, name)) as fh:
            blocks = markdown_blocks(fh.read(), out_dir, used)
        sections.append({"heading": name[:-3].replace("_", " ").capitalize(), "blocks": blocks})
    summary = os.path.join(out_dir, "summary.txt")
    if os.path.isfile(summary):
        with open(summary) as fh:
            sections.append({"heading": "Summary", "blocks": [{"kind": "pre", "text": fh.read()}]})
    plots = [n for n in sorted(os.listdir(out_dir))
             if n.endswith(".png") and os.path.abspath(os.path.join(out_dir, n)) not in used]
    if plots:
        sections.append({"heading": "Plots",
                         "blocks": [_image_block(os.path.join(out_dir, n), n) for n in plots]})
    return sections


def _wall_time(meta: dict, rows: List[dict]) -> str:
    finished = [float(r["finished_at"]) for r in rows if r.get("finished_at") is not None]
    if meta.get("started_at") and finished:
        return f"{(max(finished) - float(meta['started_at'])) / 60:.1f} min (start to last finished trial)"
    total = sum(float(r.get("wall_seconds") or 0.0) for r in rows)
    return f"{total / 60:.1f} min of trial time in all (the experiment's start was not recorded)"


def _best(experiment_dir: str, meta: dict, out_dir: str) -> List[Dict[str, str]]:
    """The best configs written beside the page, each with the command that re-runs it."""
    from distill.errors import ConfigError
    from platform.export import export_ablation_rows, export_top

    folder = os.path.join(out_dir, "configs")
    try:
        if meta.get("kind") == "ablation":
            written, metric = export_ablation_rows(experiment_dir, folder)
            return [{"what": f"row {label}" + (f", column {column}" if column else ""),
                     "value": f"mean {metric} = {value:.4g}", "command": f"python -m distill.train --config {path}"}
                    for path, label, column, value in written]
        written, meta_ = export_top(experiment_dir, 3, folder)
        return [{"what": f"trial {row['trial_id']}", "value": f"{meta_['metric']} = {row[meta_['metric']]:.4g}",
                 "command": f"python -m distill.train --config {path}"} for path, row in written]
    except (ConfigError, KeyError):   # an experiment folder from before its selection metric was recorded
        return []


def _trials(rows: List[dict], meta: dict):
    from platform.metric_kinds import on_test_split

    metric = meta.get("metric")
    shown = [metric, on_test_split(metric)] if metric else []
    labels = sorted({k for r in rows for k in r if k.startswith("param.")})
    header = ["trial", "status", "seed"] + [k[len("param."):] for k in labels] + shown + ["epochs", "wall s", "error"]
    out = []
    for r in rows:
        value = lambda k: "" if r.get(k) is None else (f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]))  # noqa: E731
        out.append({"status": r.get("status", ""),
                    "cells": [r.get("trial_id", ""), r.get("status", ""), value("seed")] + [value(k) for k in labels]
                    + [value(k) for k in shown] + [value("epochs"), value("wall_seconds"), r.get("error") or ""]})
    return header, out


def write_page(experiment_dir: str, out_dir: str, meta: dict, rows: List[dict]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from platform.experiment_dir import OPTUNA_FILE, TUNE_NAME

    env = Environment(loader=FileSystemLoader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")),
                      autoescape=select_autoescape(["html", "j2"]))
    name = os.path.basename(os.path.normpath(experiment_dir))
    facts = [("experiment", experiment_dir), ("sweep", meta.get("sweep_file") or meta.get("sweep")),
             ("kind", meta.get("kind", "sweep")), ("preset", meta.get("preset")),
             ("seeds", ", ".join(map(str, meta["seeds"])) if meta.get("seeds") else "–"),
             ("command", meta.get("command") or "not recorded (an experiment from before commands were recorded)"),
             ("overrides", " ".join(meta.get("overrides") or []) or "none"),
             ("commit", meta.get("commit", "not recorded")), ("machine", meta.get("machine", "not recorded")),
             ("created", meta.get("created", "")), ("wall time", _wall_time(meta, rows)),
             ("selection metric", f"{meta.get('metric')} ({meta.get('mode')}, validation split; the test split is "
                                  "reported, never selected on)"),
             ("report written", time.strftime("%Y-%m-%d %H:%M:%S"))]
    header, trials = _trials(rows, meta)
    commands = [f"tensorboard --logdir {os.path.join(experiment_dir, TUNE_NAME)}"]
    journal = os.path.join(experiment_dir, OPTUNA_FILE)
    if os.path.isfile(journal):
        commands.append(f"optuna-dashboard {journal}    # pip install optuna-dashboard")
    commands.append(f"python -m platform.report {experiment_dir}")
    html = env.get_template(TEMPLATE).render(
        title=f"{name}: {meta.get('sweep')} ({meta.get('preset')})", facts=facts, sections=_sections(out_dir),
        best=_best(experiment_dir, meta, out_dir), trial_header=header, trials=trials, commands=commands)
    path = os.path.join(out_dir, PAGE_FILE)
    from distill.atomic_write import atomic_write

    atomic_write(path, lambda fh: fh.write(html))
    return path
