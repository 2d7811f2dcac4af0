"""Read the user's files without hanging, exhausting memory, or following them out of a folder.

Every file the estimator reads on a user's word (a model, a registry JSON, a CSV of latencies)
goes through :func:`read_regular`. A FIFO would block ``open()`` forever, ``/dev/zero`` would fill
memory, a directory or a socket is not a file at all: anything that is not a regular file is
refused *before* a byte is read, and no more than ``limit`` bytes are ever read. The file is opened
with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so the check and the read see
the same file. :func:`contained_file` resolves a path another file names (ONNX external data) and
refuses it unless it stays inside a given folder.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from estimator.errors import InputError

#: Largest ONNX file read (protobuf cannot parse a message over 2 GiB anyway).
MAX_MODEL_BYTES = 2 << 30
#: Largest JSON or CSV text read (registry files and latency tables are kilobytes to megabytes).
MAX_TEXT_BYTES = 256 << 20
_CHUNK = 1 << 20


def describe_os_error(exc: OSError) -> str:
    """The reason in words (``File name too long``), without Python's ``[Errno n]`` prefix."""
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(
    path: str | os.PathLike[str], *, what: str = "file", error: type[InputError] = InputError
) -> os.stat_result:
    """``stat`` of ``path`` (links followed) if it is a regular file; else ``error`` naming it.

    For paths handed on to code that opens them itself (onnxruntime, the csv module): ``stat``
    never blocks, unlike ``open`` on a FIFO.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise error(f"{os.fspath(path)}: no such {what}") from None
        raise error(f"{os.fspath(path)}: cannot read: {describe_os_error(exc)}") from None
    except ValueError as exc:  # an embedded NUL byte
        raise error(f"{os.fspath(path)!r}: not a valid path ({exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{os.fspath(path)}: is {_kind(st.st_mode)}, not a {what}")
    return st


def _open_fd(
    name: str, *, what: str, error: type[InputError], follow_links: bool = True
) -> tuple[int, os.stat_result]:
    """A read-only descriptor of ``name`` and its ``fstat``, if it is a regular file."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(name, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise error(f"{name}: no such {what}") from None
        if exc.errno == errno.ELOOP and not follow_links:
            raise error(f"{name}: is a symbolic link; refusing to follow it") from None
        raise error(f"{name}: cannot read: {describe_os_error(exc)}") from None
    except ValueError as exc:  # an embedded NUL byte
        raise error(f"{name!r}: not a valid path ({exc})") from None
    try:
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise error(f"{name}: cannot read: {describe_os_error(exc)}") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise error(f"{name}: is {_kind(st.st_mode)}, not a {what}")
    return fd, st


def open_regular(
    path: str | os.PathLike[str], *, what: str = "file", error: type[InputError] = InputError
) -> BinaryIO:
    """``path`` opened for buffered binary reading, if it is a regular file; else ``error``.

    For files read as a stream (a CSV of a million rows), which :func:`read_regular` would hold
    whole in memory. The regular-file check is made on the open descriptor.
    """
    fd, _ = _open_fd(os.fspath(path), what=what, error=error)
    return open(fd, "rb", closefd=True)


def read_regular(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    limit: int = MAX_TEXT_BYTES,
    error: type[InputError] = InputError,
    follow_links: bool = True,
) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Raises ``error`` (an :class:`InputError`) with one line naming the path for a missing file, a
    directory, FIFO, device or socket, a file over ``limit``, or any OS error (a name too long,
    permission denied). ``follow_links=False`` refuses a symbolic link as the last component.
    """
    name = os.fspath(path)
    fd, st = _open_fd(name, what=what, error=error, follow_links=follow_links)
    try:
        if st.st_size > limit:
            raise error(f"{name}: {st.st_size} bytes, more than the {limit} a {what} may have")
        chunks: list[bytes] = []
        total = 0
        while True:
            # A file that grows while being read (or lies in st_size, as /proc files do) is
            # still capped: read at most one byte past the limit to know it was exceeded.
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise error(f"{name}: more than the {limit} bytes a {what} may have")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{name}: cannot read: {describe_os_error(exc)}") from None
    finally:
        os.close(fd)


def read_text(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    limit: int = MAX_TEXT_BYTES,
    error: type[InputError] = InputError,
) -> str:
    """:func:`read_regular` decoded as UTF-8 (a leading byte-order mark is dropped); a file that
    is not UTF-8 is ``error`` naming the byte offset."""
    data = read_regular(path, what=what, limit=limit, error=error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{os.fspath(path)}: not a UTF-8 text file (byte {exc.start})") from None


def _first_bad_line(path: str, what: str, error: type[InputError]) -> tuple[int, int]:
    """(line, byte in that line) of the first bytes that are not UTF-8; (0, 0) when none."""
    with open_regular(path, what=what, error=error) as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                (raw[3:] if number == 1 and raw.startswith(codecs.BOM_UTF8) else raw).decode()
            except UnicodeDecodeError as exc:
                return number, exc.start + 1
    return 0, 0


def csv_rows(
    path: str | os.PathLike[str], *, what: str = "CSV file", error: type[InputError] = InputError
) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of the header and of every row that is not blank, read as a stream.

    The file must be a regular file (a FIFO is refused, not waited on) and UTF-8; a leading
    byte-order mark is dropped, so a header written by Excel reads ``model``, not ``\ufeffmodel``.
    Lines count from 1 (the header), as editors show them. Text that is not UTF-8, a malformed
    row (a stray quote at the end, a NUL byte, a field over the csv module's limit) and an empty
    file are ``error`` naming the file and the line. Memory does not grow with the file: one row
    is decoded at a time.
    """
    name = os.fspath(path)
    fh = open_regular(name, what=what, error=error)
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        with text:
            first = True
            for row in reader:
                if first or any(cell.strip() for cell in row):
                    first = False
                    yield reader.line_num, row
            if first:
                raise error(f"{name}: empty file (need a header line)")
    except UnicodeDecodeError:
        line, col = _first_bad_line(name, what, error)
        where = f" line {line}, byte {col}:" if line else ""
        raise error(f"{name}:{where} not UTF-8 text (save the file as UTF-8)") from None
    except csv.Error as exc:
        raise error(f"{name}: line {reader.line_num}: {exc}") from None
    except OSError as exc:
        raise error(f"{name}: cannot read: {describe_os_error(exc)}") from None


def contained_file(
    folder: Path, location: str, *, what: str, error: type[InputError] = InputError
) -> Path:
    """``folder / location`` resolved (every symbolic link followed), if it is a regular file
    inside ``folder``; else ``error`` naming ``what`` and the location.

    Absolute locations, ``..`` that climbs out, and links that point out of the folder are all
    refused the same way: by where the resolved path lies, not by how it is spelled.
    """
    if not location or "\x00" in location:
        raise error(f"{what}: location {location!r} is not a file name")
    if os.path.isabs(location):
        raise error(f"{what}: location {location!r} is absolute; it must lie in {folder}")
    try:
        root = folder.resolve(strict=True)
        target = (root / location).resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        why = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        raise error(f"{what}: location {location!r} cannot be resolved: {why}") from None
    if not target.is_relative_to(root):
        raise error(f"{what}: location {location!r} lies outside the model's folder {root}")
    check_regular(target, what=f"file ({what}, location {location!r})", error=error)
    return target
