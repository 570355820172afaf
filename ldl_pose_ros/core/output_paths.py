# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Where the tools write: checked before anything is opened, replaced only when proven ours.

Rules shared by ``ldl-pose predict``, ``ldl-pose bag evaluate|play|export`` and the demo:

* **No alias.**  An output never is, contains or lies inside one of the run's inputs
  (:func:`check_distinct`, :func:`check_not_inside`): ``--out photo.jpg`` for the
  input ``photo.jpg``, ``--annotate`` into the input folder, an input bag under the
  output folder are refused before anything is written.  Paths are compared after
  resolving symbolic links, and existing files by device and inode (hard links).
* **Checked first.**  :func:`check_file_target` and :func:`check_folder_target`
  find an output path that cannot work (a folder where a file is wanted, a file
  where a folder is wanted, no writable ancestor, a special file) before the model
  is loaded; :class:`OutputError` carries the one-line reason.
* **Only what we wrote.**  An output folder holds a marker (:data:`MARKER`, JSON)
  listing, per tool, every file that tool wrote there with its size.  An existing entry is
  replaced or deleted only when the marker proves it ours (:meth:`OwnedFolder.owns`:
  a regular file of the recorded size, or a folder of only such files); anything
  else at a name the tool wants is refused, and files the tool does not want are
  never touched.  A previous run's results that this run does not produce again
  are removed (no stale plots next to a new report).
* **Complete or absent.**  Results are written under a temporary name
  (:data:`TEMP_PREFIX`, recorded in the marker first) and renamed into place when
  complete (:func:`atomic_text`, :meth:`OwnedFolder.commit`): a failed or killed
  run leaves the previous results, never half-written ones; the next run removes
  the temporary files the marker lists.  A run that fails before it committed
  anything leaves no trace: its work folder goes, and so does the output folder
  when the run created it (:meth:`OwnedFolder.work`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

#: Name of the marker file of an output folder.
MARKER = ".ldl-pose-output.json"
#: Prefix of temporary files and folders (renamed when complete).
TEMP_PREFIX = ".ldl-pose-tmp-"
_MARKER_FORMAT = "ldl_pose_ros.output_folder"
#: errno values of a write that failed for lack of room or rights (not a bug of ours).
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                errno.EPERM, errno.EIO)


class OutputError(Exception):
    """An output path that cannot or must not be written; the message is one line."""


def describe_os_error(exc: OSError) -> str:
    """``strerror`` of ``exc`` (e.g. "No space left on device"), or its text."""
    return exc.strerror or str(exc)


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name the same file or folder (links resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return _real(a) == _real(b)


def is_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True when ``path`` is ``folder`` or lies below it (links resolved)."""
    p, f = _real(path), _real(folder)
    return p == f or f in p.parents or (
        Path(path).exists() and Path(folder).exists() and same_file(path, folder))


def check_distinct(output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]],
                   what: str) -> None:
    """Refuse ``output`` when it is one of ``inputs`` (raises :class:`OutputError`)."""
    for inp in inputs:
        if same_file(output, inp):
            raise OutputError(f"{what} {output} is also an input ({inp}): it would be "
                              "overwritten; choose another output path")


def check_not_inside(output_folder: str | os.PathLike[str],
                     inputs: Iterable[str | os.PathLike[str]], what: str) -> None:
    """Refuse an output folder that contains, is, or lies inside one of ``inputs``."""
    for inp in inputs:
        if is_inside(inp, output_folder):
            raise OutputError(f"{what} {output_folder} contains the input {inp}: choose an "
                              "output folder outside the inputs")
        if Path(inp).is_dir() and is_inside(output_folder, inp):
            raise OutputError(f"{what} {output_folder} lies inside the input {inp}: choose an "
                              "output folder outside the inputs")


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_creatable(path: Path, what: str) -> None:
    """``path`` does not exist: its nearest existing ancestor must be a writable folder."""
    anc = _nearest_existing(path.parent)
    if not anc.is_dir():
        raise OutputError(f"{what} {path}: {anc} is not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: cannot create it in {anc} (permission denied or "
                          "read-only file system)")


def _probe_writable(folder: Path, what: str) -> None:
    """Create and delete a temporary file in ``folder`` (catches read-only mounts)."""
    probe = folder / f"{TEMP_PREFIX}probe-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise OutputError(f"{what}: cannot write in {folder} ({describe_os_error(exc)})") from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        probe.unlink()


def check_file_target(path: str | os.PathLike[str], what: str) -> Path:
    """Check that a result file can be written at ``path``; returns it.

    Refused: an existing folder or special file (device, pipe, socket), a parent
    that is a file, and a location with no writable folder to create it in.  A
    symbolic link to a regular file is written through (as a shell redirection
    does): the file it names is replaced and the link kept, so the folder that must
    be writable is that file's.
    """
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise OutputError(f"{what} {p} is a dangling symbolic link")
    if p.exists():
        if p.is_dir():
            raise OutputError(f"{what} {p} is a folder; give a file name")
        if not stat.S_ISREG(p.stat().st_mode):
            raise OutputError(f"{what} {p} is not a regular file")
    _check_parent(p.resolve() if p.is_symlink() else p, what)
    return p


def _check_parent(p: Path, what: str) -> None:
    """The folder of ``p`` is writable, or can be created."""
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists():
        if not parent.is_dir():
            raise OutputError(f"{what} {p}: {parent} is not a folder")
        _probe_writable(parent, f"{what} {p}")
    else:
        _check_creatable(parent, what)


def check_folder_target(path: str | os.PathLike[str], what: str) -> Path:
    """Check that an output folder can be used (existing and writable, or creatable)."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise OutputError(f"{what} {p} exists and is not a folder")
        _probe_writable(p, f"{what} {p}")
    else:
        _check_creatable(p, what)
    return p


def check_new_target(path: str | os.PathLike[str], what: str) -> Path:
    """Check that a new output (a bag folder) can be created at ``path``: it must not exist.

    Like ``ros2 bag record -o``, nothing that exists is replaced: an existing bag,
    the bag being played, any file.  Raises :class:`OutputError`.
    """
    p = Path(path)
    if p.exists() or p.is_symlink():
        raise OutputError(f"{what} {p} exists: choose a new name (nothing is overwritten)")
    _check_parent(p, what)
    return p


@contextlib.contextmanager
def atomic_text(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text file beside ``path``, renamed to ``path`` when the block succeeds.

    UTF-8, ``newline=''`` (for CSV).  On an exception (including a full disk) the
    temporary file is removed and ``path`` is left as it was.  Where ``path`` is a
    symbolic link, the file it names is replaced and the link kept.
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    tmp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{target.name}")
    f = open(tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield f
        f.close()
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            f.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# ---------------------------------------------------------------- owned folders


def _tree(path: Path) -> dict[str, int] | None:
    """``{relative file: size}`` under ``path`` (a file: its own name), None for links/specials."""
    st = path.lstat()
    if stat.S_ISREG(st.st_mode):
        return {"": st.st_size}
    if not stat.S_ISDIR(st.st_mode):
        return None
    out: dict[str, int] = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            q = Path(root) / name
            st = q.lstat()
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                return None
            out[str(q.relative_to(path))] = st.st_size
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


class OwnedFolder:
    """An output folder and the marker proving which of its entries a tool wrote.

    Args:
        folder: the output folder (created by :meth:`prepare` if missing).
        tool: who writes it (e.g. ``"ldl-pose bag evaluate"``), recorded in the marker.
        what: how error messages name the folder (e.g. ``"--out"``).

    Use: :meth:`prepare` with the names this run will write (refuses any of them
    that exists and is not proven ours, creates the folder, drops temporary files a
    killed run left), then :meth:`temp_path` / :meth:`commit` per result (or
    :meth:`work` for a temporary folder), and :meth:`remove_stale` to remove the
    previous run's results that were not written again.

    The marker keeps one section per tool: several tools may share a folder (the
    demo's evaluation, ``bag evaluate`` and ``bag export`` into one ``--out``), and
    each replaces or removes only the entries of its own section.
    """

    def __init__(self, folder: str | os.PathLike[str], tool: str, what: str = "output folder"
                 ) -> None:
        self.folder = Path(folder)
        self.tool = tool
        self.what = what
        self.entries: dict[str, dict[str, int]] = {}  # name -> {relative file: size}
        self.temps: set[str] = set()
        self.claimed: set[str] = set()  # free names announced before a writer creates them
        self.written: set[str] = set()
        self.created = False  # True once prepare() made the folder
        self._others: dict[str, object] = {}  # the marker's sections of other tools
        self._read_marker()

    # -- the marker ------------------------------------------------------------------

    @property
    def marker(self) -> Path:
        """The marker file."""
        return self.folder / MARKER

    def _read_marker(self) -> None:
        """Read the section of this tool in the marker (the other sections are kept as they are)."""
        m = self.marker
        if not m.is_file() or m.is_symlink():
            return
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            return  # unreadable: nothing is proven ours
        if not isinstance(data, dict) or data.get("format") != _MARKER_FORMAT \
                or not isinstance(data.get("tools"), dict):
            return
        self._others = {k: v for k, v in data["tools"].items()
                        if isinstance(k, str) and k != self.tool and isinstance(v, dict)}
        section = data["tools"].get(self.tool)
        if not isinstance(section, dict):
            return
        entries, temps = section.get("entries"), section.get("temps")
        claimed = section.get("claimed")
        if isinstance(entries, dict):
            for name, files in entries.items():
                if _plain_name(name) and isinstance(files, dict) and all(
                        isinstance(k, str) and isinstance(v, int) for k, v in files.items()):
                    self.entries[name] = dict(files)
        if isinstance(temps, list):
            self.temps = {t for t in temps if isinstance(t, str) and _plain_name(t)
                          and t.startswith(TEMP_PREFIX)}
        if isinstance(claimed, list):
            self.claimed = {c for c in claimed if isinstance(c, str) and _plain_name(c)}

    def _write_marker(self) -> None:
        tools = dict(self._others)
        tools[self.tool] = {"entries": self.entries, "temps": sorted(self.temps),
                            "claimed": sorted(self.claimed)}
        data = {"format": _MARKER_FORMAT, "tools": tools}
        tmp = self.folder / f"{MARKER}.{secrets.token_hex(4)}.tmp"
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, self.marker)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    # -- proofs ------------------------------------------------------------------------

    def owns(self, name: str) -> bool:
        """True when the entry ``name`` is exactly what the marker says this tool wrote."""
        path = self.folder / name
        if name in self.claimed:  # it was free when claimed: whatever is there is ours
            return not path.is_symlink()
        recorded = self.entries.get(name)
        if recorded is None or not path.exists() or path.is_symlink():
            return False
        try:
            return _tree(path) == recorded
        except OSError:
            return False

    def prepare(self, names: Iterable[str]) -> None:
        """Refuse names that are taken by entries not proven ours; create the folder.

        Raises :class:`OutputError`.  Leftover temporary files of a killed run that
        the marker lists are removed.
        """
        check_folder_target(self.folder, self.what)
        for name in names:
            path = self.folder / name
            if (path.exists() or path.is_symlink()) and not self.owns(name):
                raise OutputError(
                    f"{self.what} {self.folder}: {name} exists and was not written by "
                    f"{self.tool} (or was changed since): it is left alone; remove it or "
                    "choose another folder")
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            self.created = True
        for t in sorted(self.temps):
            with contextlib.suppress(OSError):
                _remove(self.folder / t)
        self.temps.clear()
        self._write_marker()

    def temp_path(self, name: str) -> Path:
        """A fresh temporary path for the result ``name`` (recorded in the marker first)."""
        tmp = f"{TEMP_PREFIX}{secrets.token_hex(6)}-{name}"
        self.temps.add(tmp)
        self._write_marker()
        return self.folder / tmp

    def claim(self, name: str) -> Path:
        """Announce that another writer of this tool will create ``name`` (which is free).

        Recorded in the marker before it exists, so a run killed while writing it
        can still be cleaned up by the next one; :meth:`record` it when complete.
        """
        path = self.folder / name
        if (path.exists() or path.is_symlink()) and not self.owns(name):
            raise OutputError(f"{self.what} {self.folder}: {name} exists and was not written "
                              f"by {self.tool}")
        self.claimed.add(name)
        self._write_marker()
        return path

    def record(self, name: str) -> None:
        """Record the entry ``name`` this tool has just written (see :meth:`claim`)."""
        path = self.folder / name
        tree = _tree(path) if path.exists() and not path.is_symlink() else None
        if tree is not None:
            self.entries[name] = tree
            self.written.add(name)
        self.claimed.discard(name)
        self._write_marker()

    def temp_dir(self) -> Path:
        """A fresh temporary folder in the output folder (recorded in the marker first)."""
        path = self.temp_path("work")
        path.mkdir()
        return path

    def commit(self, tmp: Path, name: str) -> Path:
        """Move the complete result ``tmp`` (from :meth:`temp_path`) to ``name``."""
        target = self.folder / name
        if target.exists() or target.is_symlink():
            if not self.owns(name):
                raise OutputError(f"{self.what} {self.folder}: {name} appeared during the run "
                                  "and was not written by this tool: left alone; the result "
                                  f"is in {tmp.name}")
            if target.is_dir() and not target.is_symlink():
                _remove(target)
        tree = _tree(tmp)
        if tree is None:
            raise OutputError(f"{tmp} holds links or special files")
        os.replace(tmp, target)
        self.entries[name] = tree
        self.temps.discard(tmp.name)
        self.written.add(name)
        self._write_marker()
        return target

    @contextlib.contextmanager
    def work(self) -> Iterator[Path]:
        """A temporary folder for this run's results, removed when the block ends.

        Commit complete results from it with :meth:`commit`.  When the block raises
        and nothing was committed, the run leaves no trace: the output folder, with
        its marker, is removed too if :meth:`prepare` created it and it holds
        nothing else.
        """
        tmp = self.temp_dir()
        try:
            yield tmp
        except BaseException:
            self.discard(tmp)
            self._remove_if_unused()
            raise
        self.discard(tmp)

    def _remove_if_unused(self) -> None:
        """Remove the folder this run created when it holds only the marker."""
        if not self.created or self.written:
            return
        with contextlib.suppress(OSError):
            if {p.name for p in self.folder.iterdir()} <= {MARKER}:
                self.marker.unlink(missing_ok=True)
                self.folder.rmdir()

    def discard(self, tmp: Path) -> None:
        """Remove a temporary result that will not be committed."""
        with contextlib.suppress(OSError):
            _remove(tmp)
        self.temps.discard(tmp.name)
        with contextlib.suppress(OSError):
            self._write_marker()

    def remove_stale(self, keep: Iterable[str] = ()) -> list[str]:
        """Delete this tool's earlier results not written by this run; returns their names.

        Only entries the marker proves ours are deleted; the others are forgotten.
        """
        keep = set(keep) | self.written
        removed = []
        for name in sorted((set(self.entries) | self.claimed) - keep):
            if self.owns(name) and (self.folder / name).exists():
                with contextlib.suppress(OSError):
                    _remove(self.folder / name)
                    removed.append(name)
            if not (self.folder / name).exists():
                self.entries.pop(name, None)
                self.claimed.discard(name)
        self._write_marker()
        return removed


def _plain_name(name: str) -> bool:
    """A single path component (no separators, not '.' or '..')."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name \
        and "\0" not in name
