"""Export a corpus to ONNX files, resumable: files already there are kept, each appears atomically.

Layout of a corpus folder: ``<family>/<index>-<hash>.onnx`` per network and ``manifest.json``
(every exported network's :meth:`CorpusNet.to_dict` plus its ``file``), rewritten atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from estimator.zoo.corpus.generate import CorpusNet

MANIFEST = "manifest.json"


def default_dir() -> Path:
    """``$XDG_CACHE_HOME`` (or ~/.cache)/roofline-estimator/corpus: outside any checkout."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "roofline-estimator" / "corpus"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Name -> entry of ``folder/manifest.json`` (empty when there is none)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8"))["nets"]
    return {e["name"]: e for e in entries}


def manifest_nets(folder: str | os.PathLike[str]) -> list[tuple[CorpusNet, Path]]:
    """(network, ONNX path) of every manifest entry whose file exists, in manifest order."""
    root = Path(folder)
    out = []
    for entry in read_manifest(root).values():
        path = root / entry["file"]
        if path.is_file():
            out.append((CorpusNet.from_dict(entry), path))
    return out


def _write_manifest(root: Path, entries: dict[str, dict[str, Any]]) -> None:
    ordered = [entries[k] for k in sorted(entries)]
    write_atomic(root / MANIFEST, json.dumps({"version": 1, "nets": ordered}, indent=1) + "\n")


def export_net(net: CorpusNet, path: Path, *, opset: int = 17) -> Path:
    """Export one network to ``path`` (atomic, through ``estimator.zoo.export.export_module``)."""
    from estimator.zoo.export import export_module

    return export_module(
        net.build(),
        (net.example_input(),),
        path,
        opset=opset,
        input_names=["input"],
        output_names=["logits"],
    )


def export_corpus(
    nets: Iterable[CorpusNet],
    folder: str | os.PathLike[str],
    *,
    opset: int = 17,
    on_done: Callable[[CorpusNet, Path, bool], None] | None = None,
) -> list[Path]:
    """Export every network of ``nets`` under ``folder``; returns their paths, in order.

    A file already present is kept (resume after an interruption: names carry a hash of the
    hyper-parameters and seed, so a present file is that network). ``on_done(net, path,
    exported)`` is called after each network (``exported`` False for a kept file). The manifest
    is updated after every export, so it always lists exactly the files that exist.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(root)
    paths: list[Path] = []
    for net in nets:
        path = root / net.relpath
        fresh = not path.is_file()
        if fresh:
            try:
                export_net(net, path, opset=opset)
            except Exception as exc:  # the exporter's own failure: name the network
                first = (str(exc).strip().splitlines() or [""])[0]
                raise RuntimeError(
                    f"{net.name}: export failed: {type(exc).__name__}: {first}"
                ) from exc
        paths.append(path)
        if fresh or net.name not in entries:
            entries[net.name] = {**net.to_dict(), "file": net.relpath, "opset": opset}
            _write_manifest(root, entries)
        if on_done is not None:
            on_done(net, path, fresh)
    return paths
