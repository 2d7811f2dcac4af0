"""estimate-latency with a decoder config: a real process, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "llm"
GPT2 = str(EXAMPLES / "gpt2" / "config.json")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "estimator.cli.estimate_latency", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def test_generation_text_and_json() -> None:
    args = (GPT2, "--hw", "h100", "--dtype", "fp16", "--prompt", "64", "--generate", "8")
    text = run_cli(*args, "--batch", "4")
    assert text.returncode == 0, text.stderr
    for needle in ("TTFT", "TPOT", "end to end", "tokens/s", "KV cache", "fits: yes", "by block"):
        assert needle in text.stdout
    js = run_cli(*args, "--format", "json")
    assert js.returncode == 0, js.stderr
    doc = json.loads(js.stdout)
    assert doc["prompt"] == 64 and doc["generate"] == 8 and doc["runtime"] == "llm-serving-gpu"
    assert doc["ttft_ms"] > 0 and len(doc["decode_steps"]) == 7


def test_sweep_writes_table_and_pngs(tmp_path: Path) -> None:
    proc = run_cli(
        "tiny_llama", "--hw", "a100", "--prompt", "16", "--generate", "4",
        "--sweep", "batch=1:4", "--plot-dir", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "sweep of batch" in proc.stdout and "wrote" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tiny_llama_a100_batch_stages.png",
        "tiny_llama_a100_batch_tpot.png",
    ]


def test_vlm_images() -> None:
    llava = str(EXAMPLES / "llava-1.5-7b" / "config.json")
    proc = run_cli(llava, "--hw", "h100", "--dtype", "fp16", "--prompt", "32", "--images", "1",
                   "--generate", "4", "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["name"] for s in doc["stages"]] == ["vision", "prefill", "decode"]
    assert doc["prefill_tokens"] == 32 + 576


def test_input_errors_are_one_line(tmp_path: Path) -> None:
    cfg = json.loads(Path(GPT2).read_text())
    del cfg["n_embd"]
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(cfg))
    for args, needle in (
        ((str(bad), "--hw", "h100"), "missing field 'n_embd'"),
        ((GPT2, "--hw", "h100", "--images", "2"), "no vision tower"),
        ((GPT2, "--prompt", "8"), "needs --hw"),
        ((GPT2, "--hw", "h100", "--sweep", "seq=1:4"), "--sweep"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
