"""Property-based fuzzing of the console scripts' arguments (issue 15).

argv is drawn from each script's own flags with values that are good, empty, negative, not a
number, non-finite, 400 digits long, or an unknown flag. ``main(argv)`` runs in process (imports
paid once) and must exit 0, or exit 2 with one stderr line ``SCRIPT: error: ...`` naming the
problem; never a traceback, a hang or another exit status. A few cases run the installed console
script as a separate process, as a user runs it, to check the real exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from estimator.cli import estimate_latency
from tests.fuzz._outcome import CASE_TIMEOUT_S, check_cli, fuzz_settings, judge_process

REPO = Path(__file__).resolve().parents[2]
MODEL = str(REPO / "examples" / "tiny_convnet.onnx")
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" + (
    "skip_connect~2|"
)
_NUMBERS = st.sampled_from(
    [
        "1",
        "2",
        "0",
        "-1",
        "2.5",
        "nan",
        "inf",
        "-inf",
        "1e999",
        "9" * 400,
        "",
        "x",
        "0x10",
        "2147483648",
    ]
)
_NAMES = st.sampled_from(
    [
        "i7-12700K",
        "a100",
        "pixel-3",
        "",
        "nope",
        "i7-12700K,a100",
        ",",
        "I7-12700K",
        "../../etc",
        "\x00",
    ]
)
#: Each flag with the values it is fuzzed with (--probe and --hw host are left out: they
#: measure this machine for seconds; --sweep writes plots).
_FLAGS: dict[str, st.SearchStrategy[str] | None] = {
    "--hw": _NAMES,
    "--compare": _NAMES,
    "--runtime": st.sampled_from(["onnxruntime-cpu", "tensorrt", "pytorch-eager", "", "nope"]),
    "--dtype": st.sampled_from(["fp32", "fp16", "int8", "fp64", ""]),
    "--threads": _NUMBERS,
    "--batch": _NUMBERS,
    "--top": _NUMBERS,
    "--format": st.sampled_from(["table", "json", "csv", "xml", ""]),
    "--input-shape": st.sampled_from(
        [
            "input=1x3x64x64",
            "input=1x3x0x64",
            "x=1",
            "=",
            "",
            "input=1x3x64x64x",
            "input=" + "9" * 40 + "x3x64x64",
        ]
    ),
    "--registry": st.sampled_from(
        [str(REPO / "hardware_registry"), "/nonexistent", "/etc/passwd", ""]
    ),
    "--strict": None,
    "--list-hw": None,
    "--no-such-flag": None,
}
_MODELS = st.sampled_from(
    [MODEL, MODEL, ARCH, ARCH, "resnet18", "", "nope.onnx", "/dev/null", "|none~0|", str(REPO)]
)


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    out = [draw(_MODELS)] if draw(st.integers(0, 9)) else []
    for flag in draw(st.lists(st.sampled_from(sorted(_FLAGS)), max_size=4, unique=True)):
        values = _FLAGS[flag]
        out.append(flag)
        if values is not None:
            out.append(draw(values))
    return draw(st.permutations(out))


@fuzz_settings(150, 0.3)
@given(args=argv())
def test_estimate_latency_arguments_exit_0_or_one_line_error(args: list[str]) -> None:
    check_cli("cli", estimate_latency.main, "estimate-latency", args)


@fuzz_settings(3, 0.002)
@given(args=argv())
def test_the_installed_script_exits_0_or_2(args: list[str]) -> None:
    exe = Path(sys.executable).parent / "estimate-latency"
    env = {k: v for k, v in os.environ.items() if k != "ESTIMATOR_REGISTRY"}
    try:
        proc = subprocess.run(
            [str(exe), *args], capture_output=True, text=True, timeout=CASE_TIMEOUT_S, env=env
        )
        rc, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        rc, err = 124, ""
    judge_process("cli-process", "estimate-latency", args, rc, err)
