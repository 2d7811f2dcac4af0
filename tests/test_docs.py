"""Every fenced code block of README.md and docs/**/*.md runs, so documentation that stops
working fails the suite. What a block is comes from its info string:

- ``python``: executed in a fresh interpreter, cwd a scratch folder holding the placeholder files
  (:data:`PLACEHOLDERS`); earlier python blocks of the same page run first, so blocks that
  continue each other share a namespace. Names a block uses without defining (the reader's own
  data) come from :data:`PYTHON_SETUP`.
- ``bash`` / ``sh`` / ``shell``: every command line (continuations joined, comments dropped) is
  run by bash as a user would, from a scratch repository root (links to the repository's folders,
  ``.venv`` -> the venv running the tests, its bin first on PATH), with HOME, the results store
  and a user registry folder (this machine's entry, made from hardware_registry/template/) in the
  scratch folder, so nothing is written to the repository or the real home.
- ``console``: the lines starting with ``$ `` are commands as above; the other lines are output.
- ``sql``: executed by sqlite3; its tables and columns must be the results store's.
- ``json``: must parse.
- ``text`` or no info string: not run, and must not read as commands (a command block without an
  info string would otherwise go unchecked without anyone noticing).

A command that takes minutes as written (a full calibration, the whole benchmark) runs as the cheap
variant listed in :data:`SUBSTITUTIONS`, the one table of every command that does not run verbatim;
an entry that no longer matches a documented command fails. The calibration blocks share one
results store measured once per session (``measure-efficiency --quick``, 0.02 s per model, then
``calibrate-hardware --quick``'s sampled kernels, see :func:`measured_store`); each block gets its
own copy at the store paths the docs name, so ``calibrate-hardware ... --quick`` resumes it and
fits.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "examples" / "tiny_convnet.onnx"
VENV = Path(sys.prefix)
BIN = Path(sys.executable).parent
PAGES = ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("docs/**/*.md"))]

SHELL = {"bash", "sh", "shell"}
INERT = {"", "text"}
#: The zoo networks of the shared store (the two smallest of calibrate-hardware's --quick set).
ZOO = "squeezenet1_1,mobilenet_v3_small"
#: Repository entries the scratch root links to (read by the commands, never written through).
LINKED = ["calibration", "tools", "benchmarks", "examples", "hardware_registry", "estimator",
          "Makefile", "pyproject.toml"]  # fmt: skip

#: Files the docs name as the reader's own, made in the scratch root / python cwd: (page or "*",
#: file name) -> (what it is, why). "tiny": examples/tiny_convnet.onnx (batch fixed at 1),
#: "tiny-dynamic": the same with a dynamic batch dim, "latencies": 12 NB201 networks, made-up ms.
PLACEHOLDERS = {
    ("*", "model.onnx"): ("tiny", "the reader's model"),
    ("*", "my_latencies.csv"): ("latencies", "README's few-shot input: columns model,latency_ms"),
    ("docs/design/measurement.md", "model.onnx"): (
        "tiny-dynamic", "measured at batch=8: the model needs a dynamic batch dim"),
    ("docs/design/measurement.md", "mbv2.onnx"): (
        "tiny-dynamic", "the page's MobileNetV2, swept over batch 1-8"),
}  # fmt: skip


@dataclass(frozen=True)
class Sub:
    page: str
    original: str  # the documented command, continuations joined, comment dropped
    run: str  # what runs instead; {tmp} = the block's scratch folder
    why: str
    #: "ok": exit status 0. "verdict": 0, or 1 with a threshold FAIL line and no traceback (the
    #: thresholds are the docs' ones, for a full calibration; the quick store does not meet them).
    expect: str = "ok"


_QUICK = f"--quick --zoo {ZOO}"
_CAL_DB = "--db ~/.cache/roofline-estimator/calibration-v2.sqlite"
_XEON_DB = "--db ~/.cache/roofline-estimator/calib-xeon2.sqlite"
_ICX_DB = "--db ~/.cache/roofline-estimator/calib-icelake.sqlite"
_THRESH = "--max-median-error 0.10 --min-within15 0.80 --min-coverage 0.85"
_PRE = "store pre-measured by the session fixture, so the command resumes it (nothing to measure) "
_NB = "--quick --pool 0:50 --query 50:150"
_AE = ".venv/bin/analyze-efficiency"
_NB_DOC = "../shared/data/nasbench201/latency_ms.csv"  # the page's path, from the repository root
_NB_CSV = f"{REPO.parent}/shared/data/nasbench201/latency_ms.csv"
_AE_WHY = "the shared NB201 table by its real path (the scratch root has no ../shared); "

SUBSTITUTIONS = [
    Sub("docs/probe.md", "calibrate-hardware --hw host --runtime onnxruntime --threads 1,2",
        f"calibrate-hardware --hw host --runtime onnxruntime --threads 1,2 {_QUICK}",
        _PRE + "and fits (the docs' registry has an entry for this machine, so nothing is probed); "
        "from nothing, probe included, docs/probe.md gives the time"),
    Sub("docs/probe.md", "probe-hardware --threads 1,2", "probe-hardware --quick --threads 1",
        "a quick probe at one thread (seconds) instead of the full one (about 30 s)"),
    Sub("docs/probe.md", "visualize-efficiency --hw host --threads 1 --roofline --out plots",
        "visualize-efficiency --hw "
        "\"$(ls $ESTIMATOR_REGISTRY/cpu | grep -v docs-test-host | head -1)\" "
        "--threads 1 --roofline --out {tmp}/plots",
        "the docs' registry matches this machine to a template entry without a measured roofline; "
        "the entry the block's probe-hardware wrote is named by its id"),
    Sub("README.md", "make test", "make -n test",
        "the whole suite, this test included: -n shows the recipe without recursing"),
    Sub("docs/fuzz.md", "make fuzz", "make -n -o .venv/.installed-stamp fuzz",
        "10,000 cases take minutes: -n shows the recipe (make test runs the bounded fuzz run)"),
    Sub("docs/fuzz.md", "FUZZ_EXAMPLES=50000 make fuzz",
        "FUZZ_EXAMPLES=50000 make -n -o .venv/.installed-stamp fuzz",
        "50,000 cases take a quarter of an hour: -n shows the recipe"),
    Sub("README.md", "make demo", "make -o .venv/.installed-stamp demo",
        "-o: never reinstall the venv from inside the suite (make test has just done it)"),
    Sub("README.md", ".venv/bin/calibrate-hardware --hw host --runtime onnxruntime --threads 1,2",
        f".venv/bin/calibrate-hardware --hw host --runtime onnxruntime --threads 1,2 {_QUICK}",
        _PRE + "and fits; the full sweep and zoo take 10+ min"),
    Sub("README.md", ".venv/bin/validate-calibration --hw host --threads 1 --max-median-error 0.10",
        ".venv/bin/validate-calibration --hw host --threads 1 --max-median-error 0.10",
        "verbatim; 2 quick networks need not meet the threshold", "verdict"),
    Sub("docs/calibration.md",
        "python calibration/calibrate_hardware.py --hw host --runtime onnxruntime --threads 1,2",
        f"python calibration/calibrate_hardware.py --hw host --runtime onnxruntime --threads 1,2 "
        f"{_QUICK}", _PRE + "and fits; the full sweep and zoo take 10+ min"),
    Sub("docs/calibration.md",
        f"python calibration/validate_calibration.py --hw host --threads 1 {_THRESH}",
        f"python calibration/validate_calibration.py --hw host --threads 1 {_THRESH}",
        "verbatim; 2 quick networks need not meet the thresholds", "verdict"),
    Sub("docs/accuracy_cpu.md",
        f"python calibration/calibrate_hardware.py --hw host --runtime onnxruntime --threads 1,2 "
        f"{_CAL_DB}",
        f"python calibration/calibrate_hardware.py --hw host --runtime onnxruntime --threads 1,2 "
        f"{_CAL_DB} {_QUICK}", _PRE + "and fits; the full sweep and zoo take 10+ min"),
    Sub("docs/accuracy_cpu.md",
        f"python calibration/measure_efficiency.py --threads 2 --passes 2 --remeasure {_CAL_DB}",
        f"python calibration/measure_efficiency.py --threads 2 --passes 2 --remeasure {_CAL_DB} "
        "--quick --zoo none --min-time 0.02",
        "really measures again, the quick sweep grid only, 0.02 s per model"),
    Sub("docs/accuracy_cpu.md",
        f"python calibration/measure_efficiency.py --threads 1,2 --remeasure {_CAL_DB}",
        f"python calibration/measure_efficiency.py --threads 1,2 --remeasure {_CAL_DB} "
        "--quick --zoo none --min-time 0.02",
        "really measures again, the quick sweep grid only, 0.02 s per model"),
    Sub("docs/accuracy_cpu.md",
        f"python calibration/validate_calibration.py --hw host --threads 1 {_CAL_DB} {_THRESH}",
        f"python calibration/validate_calibration.py --hw host --threads 1 {_CAL_DB} {_THRESH}",
        "verbatim; 2 quick networks need not meet the thresholds", "verdict"),
    Sub("docs/accuracy_cpu.md", "mkdir -p /tmp/cal-quiet", "mkdir -p {tmp}/cal-quiet",
        "/tmp -> the scratch folder"),
    Sub("docs/accuracy_cpu.md",
        "python calibration/calibrate_hardware.py --hw host --threads 2 --passes 3 "
        "--db /tmp/cal-q3.sqlite --out /tmp/cal-quiet",
        "python calibration/calibrate_hardware.py --hw host --threads 2 --passes 1 "
        f"--db {{tmp}}/cal-q3.sqlite --out {{tmp}}/cal-quiet {_QUICK}",
        _PRE + "(1 pass, not 3) and fits; /tmp -> the scratch folder"),
    Sub("docs/accuracy_cpu.md",
        "python calibration/validate_calibration.py --hw host --threads 2 --db /tmp/cal-q3.sqlite "
        f"{_THRESH}",
        "python calibration/validate_calibration.py --hw host --threads 2 "
        f"--db {{tmp}}/cal-q3.sqlite {_THRESH}",
        "/tmp -> the scratch folder; 2 quick networks need not meet the thresholds", "verdict"),
    Sub("docs/accuracy_cpu.md",
        f"python calibration/visualize_efficiency.py --hw host --threads 1 {_CAL_DB} "
        "--out /tmp/plots --model resnet50",
        f"python calibration/visualize_efficiency.py --hw host --threads 1 {_CAL_DB} "
        "--out {tmp}/plots --model squeezenet1_1",
        "/tmp -> the scratch folder; resnet50 is not in the quick store, squeezenet1_1 is"),
    Sub("docs/accuracy_cpu_genoa.md",
        "time python calibration/calibrate_hardware.py --hw host --runtime onnxruntime "
        f"--threads 1,2 --passes 3 {_CAL_DB}",
        "time python calibration/calibrate_hardware.py --hw host --runtime onnxruntime "
        f"--threads 1,2 --passes 1 {_CAL_DB} {_QUICK}",
        _PRE + "(1 pass, not 3) and fits; from nothing it takes 12 min"),
    Sub("docs/accuracy_cpu_genoa.md",
        f"python calibration/validate_calibration.py --hw host --threads 1 {_CAL_DB} {_THRESH}",
        f"python calibration/validate_calibration.py --hw host --threads 1 {_CAL_DB} {_THRESH}",
        "verbatim; 2 quick networks need not meet the thresholds", "verdict"),
    Sub("docs/accuracy_cpu_genoa.md",
        "python tools/measure_elementary_work.py --hw host --write --repeats 31",
        "python tools/measure_elementary_work.py --hw host --write --repeats 3 --runs 100",
        "3 repeats of 100 runs (calibrate-hardware --quick's budget) instead of 31 of 300"),
    Sub("docs/accuracy_cpu_genoa.md",
        f"time python calibration/measure_efficiency.py --threads 2 --passes 3 {_CAL_DB}",
        f"time python calibration/measure_efficiency.py --threads 2 --passes 2 {_CAL_DB} "
        "--quick --zoo none --min-time 0.02",
        "one more pass (not two) of the quick sweep grid, 0.02 s per model"),
    Sub("docs/transfer.md",
        "python tools/bench_transfer.py --columns 1080ti_1 silver_4114 samsung_a50 "
        "--semantics pruned",
        "python tools/bench_transfer.py --columns 1080ti_1 silver_4114 samsung_a50 "
        f"--semantics pruned {_NB}",
        "k in {0, 10}, 2 draws, 50 pool / 100 query rows: 5 s instead of 30"),
    Sub("docs/transfer.md",
        "python tools/bench_transfer.py --columns pixel3 --runtime onnxruntime-cpu "
        "--semantics pruned",
        "python tools/bench_transfer.py --columns pixel3 --runtime onnxruntime-cpu "
        f"--semantics pruned {_NB}",
        "k in {0, 10}, 2 draws, 50 pool / 100 query rows: 3 s instead of 20"),
    Sub("docs/transfer.md",
        ".venv/bin/python tools/bench_transfer.py --out docs/transfer_results.md "
        "--json docs/transfer_results.json",
        ".venv/bin/python tools/bench_transfer.py --out {tmp}/transfer_results.md "
        f"--json {{tmp}}/transfer_results.json {_NB}",
        "writes the scratch folder, not the committed results; quick: 20 s -> 3 s"),
    Sub("docs/design/measurement.md",
        "measure-latency mbv2.onnx --threads 1 --batch-sweep 1,2,4,8 --min-time 2",
        "measure-latency mbv2.onnx --threads 1 --batch-sweep 1,2,4,8 --min-time 0.2",
        "0.2 s per batch size instead of 2"),
    Sub("docs/accuracy_cpu_xeon.md",
        ".venv/bin/calibrate-hardware --hw host --runtime onnxruntime --threads 1,2 "
        f"{_XEON_DB}",
        f".venv/bin/calibrate-hardware --hw host --runtime onnxruntime --threads 1,2 {_XEON_DB} "
        f"{_QUICK}", _PRE + "and fits; from nothing it takes 7 min"),
    Sub("docs/accuracy_cpu_xeon.md",
        "python tools/corpus.py export --out ~/.cache/roofline-estimator/corpus",
        "python tools/corpus.py export --out {tmp}/corpus --per-family 1 --tiny --quiet",
        "one tiny member per family (12 files, seconds) instead of 240 networks in 6 min"),
    Sub("docs/accuracy_cpu_xeon.md",
        f"python tools/corpus.py profile --threads 1,2 {_XEON_DB}",
        f"python tools/corpus.py profile --threads 1 --out {{tmp}}/corpus {_XEON_DB}",
        "the 12 tiny networks at one thread into the quick store (9 min for the real corpus)"),
    Sub("docs/accuracy_cpu_xeon.md",
        f"python tools/corpus.py validate --hw host --threads 1,2 {_XEON_DB} "
        "--json docs/accuracy_cpu_xeon.json",
        f"python tools/corpus.py validate --hw host --threads 1 {_XEON_DB} "
        "--json {tmp}/accuracy_cpu_xeon.json",
        "leave one family out over the quick store and the tiny corpus; never overwrites the "
        "committed results"),
    Sub("docs/efficiency_analyses.md",
        f"{_AE} {_NB_DOC} --rows 0:1900 --out docs/efficiency/nb201",
        f"{_AE} {_NB_CSV} --rows 0:300 --out {{tmp}}/nb201",
        _AE_WHY + "300 networks, not 1,900; writes the scratch folder, not the committed report"),
    Sub("docs/efficiency_analyses.md",
        f"{_AE} {_NB_DOC} --rows 0:1900 --trim 10:90 --analyses rank-transfer,stability,snr,"
        "disagreements",
        f"{_AE} {_NB_CSV} --rows 0:300 --trim 10:90 --analyses rank-transfer,stability,snr,"
        "disagreements", _AE_WHY + "300 networks, not 1,900"),
    Sub("docs/efficiency_analyses.md",
        f"{_AE} {_NB_DOC} --sample 13 --seed 0 --analyses frm,stability,rank-transfer,"
        "disagreements,snr",
        f"{_AE} {_NB_CSV} --sample 13 --seed 0 --analyses frm,stability,rank-transfer,"
        "disagreements,snr", _AE_WHY + "otherwise verbatim"),
    Sub("docs/efficiency_analyses.md",
        f"{_AE} {_NB_DOC} --rows 0:1900 --analyses estimate-transfer --pool 0:900 --query 900:1900",
        f"{_AE} {_NB_CSV} --rows 0:300 --analyses estimate-transfer --pool 0:150 --query 150:300 "
        "--draws 1", _AE_WHY + "300 networks and 1 draw per k: 18 s -> 6 s"),
    Sub("docs/efficiency_analyses.md",
        f"{_AE} --estimate zoo --accuracy examples/zoo_imagenet_top1.csv --out docs/efficiency/zoo",
        f"{_AE} --estimate squeezenet1_1,mobilenet_v3_small --hw i7-12700K,rtx-4090,pixel-3 "
        "--accuracy examples/zoo_imagenet_top1.csv --out {tmp}/zoo",
        "2 networks on 3 devices (one per type), not 14 x 19: tracing 28 networks takes 30 s; "
        "writes the scratch folder"),
    Sub("docs/accuracy_cpu_icelake.md",
        f".venv/bin/calibrate-hardware --hw host --runtime onnxruntime --threads 1,2 {_ICX_DB}",
        f".venv/bin/calibrate-hardware --hw host --runtime onnxruntime --threads 1,2 {_ICX_DB} "
        f"{_QUICK}", _PRE + "and fits; from nothing it takes 21 min"),
    Sub("docs/accuracy_cpu_icelake.md",
        "python tools/corpus.py export --out ~/.cache/roofline-estimator/corpus",
        "python tools/corpus.py export --out {tmp}/corpus --per-family 1 --tiny --quiet",
        "one tiny member per family (12 files, seconds) instead of 240 networks in 2 min"),
    Sub("docs/accuracy_cpu_icelake.md",
        f"python tools/corpus.py profile --threads 1,2 {_ICX_DB}",
        f"python tools/corpus.py profile --threads 1 --out {{tmp}}/corpus {_ICX_DB}",
        "the 12 tiny networks at one thread into the quick store (10 min for the real corpus)"),
    Sub("docs/accuracy_cpu_icelake.md",
        f"python tools/corpus.py validate --hw host --threads 1,2 {_ICX_DB} "
        "--json docs/accuracy_cpu_icelake.json",
        f"python tools/corpus.py validate --hw host --threads 1 {_ICX_DB} "
        "--json {tmp}/accuracy_cpu_icelake.json",
        "leave one family out over the quick store and the tiny corpus; never overwrites the "
        "committed results"),
    Sub("docs/accuracy_cpu_icelake.md",
        f"python tools/corpus.py repeat --threads 1,2 {_ICX_DB} -n 30 --sessions 3 "
        "--json docs/accuracy_cpu_icelake_repeat.json",
        f"python tools/corpus.py repeat --threads 1 {_ICX_DB} -n 2 --sessions 2 --repeats 15 "
        "--json {tmp}/repeat.json",
        "2 networks of the quick store in 2 sessions instead of 30 in 3"),
    Sub("docs/accuracy_llm.md",
        "python tools/llm_accuracy_cpu.py --hw host --threads 2 --repeats 2 --steps 64 "
        "--out docs/accuracy_llm_cpu",
        "python tools/llm_accuracy_cpu.py --hw host --threads 1 --repeats 1 --steps 2 "
        "--models llama_small --prompts 32 --out {tmp}/accuracy_llm_cpu",
        "one small model, one prompt, 2 steps (the full run times 16 points for minutes) on the "
        "scratch user registry's entry for this machine; never overwrites the committed results"),
]  # fmt: skip


def _nb201_rows() -> list[tuple[str, float]]:
    """12 distinct NAS-Bench-201 networks with made-up latencies (ms): the reader's measurements."""
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    rows = []
    for i in range(12):
        n = 631 * i + 17
        e = [ops[(n // 5**j) % 5] for j in range(6)]
        arch = f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"
        ms = 4.0 + 1.5 * arch.count("conv_3x3") + 0.6 * arch.count("conv_1x1") + 0.1 * i
        rows.append((arch, round(ms, 3)))
    return rows


_ROWS = _nb201_rows()


@dataclass(frozen=True)
class PySetup:
    page: str
    marker: str  # text that names the block: it occurs in exactly one python block of the page
    why: str
    prelude: str = ""  # run first: the reader's data the block uses without defining it
    replace: tuple[tuple[str, str], ...] = ()  # (documented text, text run) in the block


#: The python blocks that do not run verbatim.
PYTHON_SETUP = [
    PySetup(
        "docs/transfer.md",
        "calibrate_from_latencies(",
        "arch_strings / refs: 10 NAS-Bench-201 networks, latencies_ms: made-up latencies of "
        "them, other_refs: 2 more networks",
        prelude=f"arch_strings = refs = {[a for a, _ in _ROWS[:10]]!r}\n"
        f"latencies_ms = {[ms for _, ms in _ROWS[:10]]!r}\n"
        f"other_refs = {[a for a, _ in _ROWS[10:]]!r}\n",
    ),
    PySetup(
        "docs/calibration.md",
        "calibrate_device(",
        _PRE + "and fits; --quick's 4 networks at the default budget take minutes",
        replace=(("quick=True", f"quick=True, zoo={ZOO.split(',')!r}"),),
    ),
]


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Block:
    page: str
    index: int  # position among the page's fenced blocks
    line: int  # 1-based line of the opening fence
    info: str
    body: str

    @property
    def id(self) -> str:
        return f"{self.page}#{self.index}-{self.info or 'none'}"


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")


def parse_blocks(page: str) -> list[Block]:
    lines = (REPO / page).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).lower()
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        blocks.append(Block(page, len(blocks), start + 1, info, "\n".join(body) + "\n"))
        i += 1
    return blocks


def _strip_comment(line: str) -> str:
    """Drop a comment line or a trailing ``  # comment`` (no documented command quotes a #)."""
    if line.lstrip().startswith("#"):
        return ""
    m = re.search(r"\s#", line)
    if m and not re.search(r"[\"']", line[: m.start()]):
        line = line[: m.start()]
    return line.strip()


def commands(block: Block) -> list[str]:
    """The command lines of a shell or console block, continuations joined, comments dropped."""
    out: list[str] = []
    lines = block.body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if block.info == "console":
            if not line.startswith("$ "):
                i += 1
                continue
            line = line[2:]
        parts = [line]
        while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            i += 1
            parts.append(lines[i])
        i += 1
        cmd = _strip_comment(" ".join(p.strip() for p in parts))
        if cmd:
            out.append(cmd)
    return out


def _normal(cmd: str) -> str:
    return " ".join(cmd.split())


ALL_BLOCKS = [b for page in PAGES for b in parse_blocks(page)]
_SUBS = {(s.page, _normal(s.original)): s for s in SUBSTITUTIONS}

# A line that reads as something to type: a prompt, a venv tool, python, make, a console script.
_LOOKS_RUN = re.compile(
    r"^\s*(\$ |\.venv/bin/|python3? |make |time |(estimate|measure)-latency |calibrate-hardware "
    r"|validate-calibration |(measure|visualize|aggregate)-efficiency |audit-calibration "
    r"|probe-hardware "
    r"|analyze-efficiency-distribution |pip |from estimator|import estimator)"
)


# ----------------------------------------------------------------------------- environment


def _host_device() -> dict[str, object]:
    """hardware_registry/template/hardware.json made this machine's entry (docs/design/registry.md
    'how users add a device'), so ``--hw host`` resolves on any machine and writes go there."""
    from estimator.host import cpu_model_name

    hw = json.loads((REPO / "hardware_registry/template/hardware.json").read_text())
    hw.update(id="docs-test-host", aliases=[])
    hw["fingerprint"] = {"cpu_model_regex": "^" + re.escape(cpu_model_name().strip()) + "$"}
    return hw


def _user_registry(root: Path) -> Path:
    """A user registry folder: this machine, and pixel-3 (its hardware.json only), so the
    documented few-shot calibration of pixel-3 writes here and not into hardware_registry/."""
    host_dir = root / "cpu" / "docs-test-host"
    host_dir.mkdir(parents=True)
    (host_dir / "hardware.json").write_text(json.dumps(_host_device(), indent=1))
    (pixel := root / "mobile" / "pixel-3").mkdir(parents=True)
    shutil.copy(REPO / "hardware_registry/mobile/pixel-3/hardware.json", pixel)
    return root


def _env(tmp: Path, registry: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTIMATOR_")}
    env.pop("XDG_CACHE_HOME", None)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ESTIMATOR_REGISTRY=str(registry),
        MPLBACKEND="Agg",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _write_placeholders(folder: Path, page: str) -> None:
    files = {name: kind for (pg, name), (kind, _) in PLACEHOLDERS.items() if pg == "*"}
    files.update({name: kind for (pg, name), (kind, _) in PLACEHOLDERS.items() if pg == page})
    for name, kind in files.items():
        if kind == "tiny":
            shutil.copy(TINY, folder / name)
        elif kind == "tiny-dynamic":
            import onnx

            model = onnx.load(str(TINY))
            for value in (*model.graph.input, *model.graph.output):
                value.type.tensor_type.shape.dim[0].dim_param = "N"
            onnx.save(model, str(folder / name))
        else:
            rows = ["model,latency_ms", *(f"{arch},{ms}" for arch, ms in _ROWS)]
            (folder / name).write_text("\n".join(rows) + "\n")


def _scratch_root(tmp: Path, page: str) -> Path:
    """The repository root as the commands see it: links to what they read, nothing to write."""
    root = tmp / "repo"
    root.mkdir()
    for name in LINKED:
        (root / name).symlink_to(REPO / name)
    (root / ".venv").symlink_to(VENV)
    _write_placeholders(root, page)
    return root


def _run(cmd: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            ["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        partial = [
            s.decode() if isinstance(s, bytes) else s or "" for s in (exc.stdout, exc.stderr)
        ]
        return -1, f"timed out after {timeout:.0f} s\n" + "".join(partial)
    return proc.returncode, proc.stdout + proc.stderr


# The shared results store: measured once per session (one worker measures, the others wait).


@pytest.fixture(scope="session")
def measured_store(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    shared = (base if worker_id == "master" else base.parent) / "docs-store"
    shared.mkdir(exist_ok=True)
    done = shared / "done"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            for leftover in ("registry", "store", "home"):
                shutil.rmtree(shared / leftover, ignore_errors=True)
            registry = _user_registry(shared / "registry")
            env = _env(shared, registry)
            db = shared / "store" / "calibration.sqlite"
            steps = [
                # the host's elementary-work table, at calibrate-hardware --quick's budget
                f"python {REPO}/tools/measure_elementary_work.py --hw host --write "
                "--repeats 3 --runs 100",
                # the quick sweep grid and the two networks, 0.02 s per model
                f"measure-efficiency --db {db} --threads 1,2 --quick --zoo {ZOO} --min-time 0.02",
                # what calibrate-hardware --quick adds: the kernels it samples over the shape
                # space (its own budget; the same seed and device, so the blocks reuse them)
                f"calibrate-hardware --hw host --db {db} --threads 1,2 --quick --zoo {ZOO}",
            ]
            for step in steps:
                rc, out = _run(step, shared, env, timeout=300)
                assert rc == 0, f"measuring the shared store failed: {step}\n{out[-4000:]}"
            done.write_text("ok")
    return shared


def _seed_store(shared: Path, tmp: Path) -> None:
    """Copies of the shared store at every store path the calibration pages name, the host's
    elementary-work table into this block's registry."""
    home = tmp / "home"
    targets = [
        home / ".cache/roofline-estimator/results.sqlite",  # the default store
        home / ".cache/roofline-estimator/calibration-v2.sqlite",
        home / ".cache/roofline-estimator/calib-xeon2.sqlite",
        home / ".cache/roofline-estimator/calib-icelake.sqlite",
        tmp / "cal-q3.sqlite",  # /tmp/cal-q3.sqlite
    ]
    for db in targets:
        db.parent.mkdir(parents=True, exist_ok=True)
        src, dst = sqlite3.connect(shared / "store" / "calibration.sqlite"), sqlite3.connect(db)
        with src, dst:
            src.backup(dst)  # a consistent copy, whatever the store's journal mode
        src.close()
        dst.close()
        models = db.parent / "calibration_models"
        if not models.exists():  # hard links: 36 MB of ONNX files, never rewritten in place
            shutil.copytree(shared / "store" / "calibration_models", models, copy_function=os.link)
    table = shared / "registry/cpu/docs-test-host/elementary_work.json"
    shutil.copy(table, tmp / "registry/cpu/docs-test-host")


# Files of the repository a documented command could write if a substitution went missing.
_GUARDED = [
    "hardware_registry/**/efficiency_curves.json",
    "hardware_registry/**/elementary_work.json",
    "docs/transfer_results.*",
]


def _stamps() -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for g in _GUARDED for p in REPO.glob(g)}


# ----------------------------------------------------------------------------- tests


def _needs_store(block: Block) -> bool:
    """Blocks that calibrate, validate or plot: they get a copy of the shared measured store."""
    if block.info == "python":
        return "estimator.calibration" in block.body
    return block.info in SHELL | {"console"} and any(
        re.search(r"calibrat|efficiency", c) and "analyze-efficiency " not in c
        for c in commands(block)
    )


def _setup_of(block: Block) -> PySetup | None:
    found = [s for s in PYTHON_SETUP if s.page == block.page and s.marker in block.body]
    return found[0] if found else None


def _params() -> list[Any]:
    out = []
    for b in ALL_BLOCKS:
        marks = [pytest.mark.slow] if _needs_store(b) else []
        out.append(pytest.param(b, id=b.id, marks=marks))
    return out


@pytest.mark.parametrize("block", _params())
def test_block(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    where = f"{block.page}:{block.line} (block {block.index}, ```{block.info})"
    if block.info == "text":
        pass  # declared not a command
    elif block.info == "":
        looks = [ln for ln in block.body.splitlines() if _LOOKS_RUN.match(ln)]
        assert not looks, (
            f"{where} has no info string or ```text but reads as commands ({looks[0]!r}): "
            "give it ```bash / ```console / ```python so it is run"
        )
    elif block.info == "python":
        shared = request.getfixturevalue("measured_store") if _needs_store(block) else None
        _run_python(block, tmp_path, where, shared)
    elif block.info in SHELL | {"console"}:
        shared = request.getfixturevalue("measured_store") if _needs_store(block) else None
        _run_shell(block, tmp_path, where, shared)
    elif block.info == "sql":
        _check_sql(block, tmp_path, where)
    elif block.info == "json":
        json.loads(block.body)
    else:
        pytest.fail(f"{where}: unknown info string {block.info!r}; add its handling to this test")


def _run_python(block: Block, tmp: Path, where: str, shared: Path | None) -> None:
    before = [b for b in ALL_BLOCKS if b.page == block.page and b.info == "python"]
    parts = []
    for b in before[: before.index(block) + 1]:
        body, setup = b.body, _setup_of(b)
        if setup is not None:
            parts.append(setup.prelude)
            for old, new in setup.replace:
                assert old in body, f"{where}: PYTHON_SETUP replaces {old!r}, not in the block"
                body = body.replace(old, new)
        parts.append(body)
    script = tmp / "block.py"
    script.write_text("\n".join(parts))
    work = tmp / "cwd"
    work.mkdir()
    _write_placeholders(work, block.page)
    env = _env(tmp, _user_registry(tmp / "registry"))
    if shared is not None:
        _seed_store(shared, tmp)
    rc, out = _run(f"{shlex.quote(sys.executable)} {script}", work, env, timeout=240)
    assert rc == 0, f"{where} failed:\n{script.read_text()}\n--- output ---\n{out[-4000:]}"


def _run_shell(block: Block, tmp: Path, where: str, shared: Path | None) -> None:
    registry = _user_registry(tmp / "registry")
    env = _env(tmp, registry)
    root = _scratch_root(tmp, block.page)
    if shared is not None:
        _seed_store(shared, tmp)
    before = _stamps()
    for cmd in commands(block):
        sub = _SUBS.get((block.page, _normal(cmd)))
        run = sub.run.replace("{tmp}", str(tmp)) if sub else cmd
        t0 = time.perf_counter()
        rc, out = _run(run, root, env, timeout=300)
        print(f"{time.perf_counter() - t0:6.1f} s  rc {rc}  {run}")
        ok = rc == 0 or (
            sub is not None
            and sub.expect == "verdict"
            and rc == 1
            and "Traceback" not in out
            and re.search(r"^FAIL ", out, re.M) is not None
        )
        ran = f"\n(ran as: {run})" if sub else ""
        assert ok, f"{where}: `{cmd}` exit {rc}{ran}\n--- output ---\n{out[-4000:]}"
    changed = sorted(k for k, v in _stamps().items() if before.get(k) != v)
    assert not changed, f"{where} wrote into the repository: {changed}"


def _check_sql(block: Block, tmp: Path, where: str) -> None:
    from estimator.measure import ResultsStore

    doc = sqlite3.connect(":memory:")
    doc.executescript(block.body)
    with ResultsStore(tmp / "store.sqlite"):
        pass
    real = sqlite3.connect(tmp / "store.sqlite")

    def tables(con: sqlite3.Connection) -> dict[str, list[str]]:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: [r[1] for r in con.execute(f"PRAGMA table_info({n})")] for n in names}

    documented, actual = tables(doc), tables(real)
    for name, cols in documented.items():
        assert name in actual, f"{where}: table {name} is not in the results store"
        assert cols == actual[name], f"{where}: {name} columns {cols}, store has {actual[name]}"
    missing = sorted(set(actual) - set(documented) - {"sqlite_sequence"})
    assert not missing, f"{where}: the store's tables {missing} are not documented"


def test_every_substitution_matches_a_documented_command() -> None:
    documented = {
        (b.page, _normal(c))
        for b in ALL_BLOCKS
        if b.info in SHELL | {"console"}
        for c in commands(b)
    }
    stale = [s.original for s in SUBSTITUTIONS if (s.page, _normal(s.original)) not in documented]
    assert not stale, f"SUBSTITUTIONS entries no documented command matches any more: {stale}"
    for s in PYTHON_SETUP:
        hits = [
            b for b in ALL_BLOCKS if b.page == s.page and b.info == "python" and s.marker in b.body
        ]
        assert len(hits) == 1, f"PYTHON_SETUP {s.page} {s.marker!r} names {len(hits)} blocks"


def test_placeholders_are_what_the_docs_name() -> None:
    for page, name in PLACEHOLDERS:
        run = [b for b in ALL_BLOCKS if b.info not in INERT and page in ("*", b.page)]
        assert any(name in b.body for b in run), f"placeholder {name} ({page}) is used by no block"
