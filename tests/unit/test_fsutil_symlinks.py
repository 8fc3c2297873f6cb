"""Atomic writes follow only symbolic links nobody else could have planted (fsutil.resolve_output, issue 18 item 5).

The attack: root runs ``workbench ... -o /tmp/out.csv`` on a shared board where another user has made
``/tmp/out.csv -> /home/them/notes.txt`` (or a link to a file of root's). Following it would replace that file.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from workbench.core.errors import StorageError
from workbench.core.fsutil import resolve_output, write_text_atomic

OTHER_UID = 65534  # nobody: an account that is neither us nor root

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a link owned by another uid needs root (lchown)")


def _folder(path: Path, mode: int) -> Path:
    path.mkdir()
    os.chmod(path, mode)  # chmod, not mkdir(mode=): the umask must not take the sticky or other-write bit away
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    return path


def _victim(tmp_path: Path) -> Path:
    """Another user's file the planted link points at."""
    home = tmp_path / "victim"
    home.mkdir()
    target = home / "notes.txt"
    target.write_text("their notes")
    return target


def _planted_link(folder: Path, target: Path, uid: int) -> Path:
    link = folder / "out.csv"
    link.symlink_to(target)
    os.lchown(link, uid, uid)
    assert os.lstat(link).st_uid == uid
    return link


@needs_root
def test_other_users_link_in_a_sticky_shared_folder_is_refused(tmp_path):
    target = _victim(tmp_path)
    link = _planted_link(_folder(tmp_path / "tmp", 0o1777), target, OTHER_UID)
    with pytest.raises(StorageError) as err:
        write_text_atomic(link, "root's results")
    msg = str(err.value)
    assert str(link) in msg and f"owned by another user (uid {OTHER_UID})" in msg
    assert "remove the link" in (err.value.hint or "")
    assert target.read_text() == "their notes" and link.is_symlink()
    assert sorted(p.name for p in target.parent.iterdir()) == ["notes.txt"]  # no temp file left by the victim's file


@needs_root
def test_other_users_link_in_a_world_writable_folder_is_refused(tmp_path):
    target = _victim(tmp_path)
    link = _planted_link(_folder(tmp_path / "drop", 0o777), target, OTHER_UID)
    with pytest.raises(StorageError, match="owned by another user"):
        write_text_atomic(link, "root's results")
    assert target.read_text() == "their notes"


def test_own_link_in_a_world_writable_folder_is_refused(tmp_path):
    # Not sticky: anyone may swap our own link for theirs between a check and the write.
    target = _victim(tmp_path)
    link = _planted_link(_folder(tmp_path / "drop", 0o777), target, os.geteuid())
    with pytest.raises(StorageError, match=r"world-writable folder .*drop \(mode 777\)"):
        write_text_atomic(link, "results")
    assert target.read_text() == "their notes"


def test_own_link_in_a_sticky_folder_is_refused(tmp_path):
    target = _victim(tmp_path)
    link = _planted_link(_folder(tmp_path / "tmp", 0o1777), target, os.geteuid())
    with pytest.raises(StorageError, match=r"sticky, world-writable folder .*\(mode 1777\)"):
        write_text_atomic(link, "results")
    assert target.read_text() == "their notes"


@needs_root
def test_a_planted_link_to_a_folder_on_the_way_is_refused(tmp_path):
    # -o /tmp/reports/out.csv where /tmp/reports -> /home/them: the last component is no link, a folder on the way is.
    target = _victim(tmp_path)
    shared = _folder(tmp_path / "tmp", 0o1777)
    (shared / "reports").symlink_to(target.parent)
    os.lchown(shared / "reports", OTHER_UID, OTHER_UID)
    with pytest.raises(StorageError, match="reports is a symbolic link owned by another user"):
        write_text_atomic(shared / "reports" / "notes.txt", "root's results")
    assert target.read_text() == "their notes"


def test_own_link_in_own_folder_is_written_through_atomically(tmp_path):
    mine = _folder(tmp_path / "mine", 0o755)
    real = mine / "real.csv"
    real.write_text("old")
    link = mine / "link.csv"
    link.symlink_to("real.csv")  # relative, as `ln -s real.csv link.csv` makes it
    before = os.stat(real).st_ino
    write_text_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert real.read_text() == "new"
    assert os.stat(real).st_ino != before  # replaced by rename (atomic), not rewritten in place
    assert sorted(p.name for p in mine.iterdir()) == ["link.csv", "real.csv"]


def test_resolve_output_follows_chains_and_dot_dot_like_the_kernel(tmp_path):
    mine = _folder(tmp_path / "mine", 0o755)
    (mine / "a" / "b").mkdir(parents=True)
    (mine / "up").symlink_to("a/b")
    (mine / "hop").symlink_to(mine / "up")
    # hop -> up -> a/b, then ".." is taken in the real folder a/b, giving a (a lexical normpath would give mine)
    assert resolve_output(mine / "hop" / ".." / "new.txt") == mine / "a" / "new.txt"
    assert resolve_output(mine / "missing" / "x.txt") == mine / "missing" / "x.txt"


def test_a_link_loop_is_one_clear_error(tmp_path):
    mine = _folder(tmp_path / "mine", 0o755)
    (mine / "a").symlink_to("b")
    (mine / "b").symlink_to("a")
    with pytest.raises(StorageError, match="more than 40 symbolic links"):
        write_text_atomic(mine / "a", "x")


@needs_root
def test_cli_results_export_refuses_a_planted_link(tmp_path, run_cli):
    target = _victim(tmp_path)
    link = _planted_link(_folder(tmp_path / "tmp", 0o1777), target, OTHER_UID)
    r = run_cli("results", "export", "--format", "csv", "-o", str(link))
    assert r.returncode == 11, r.stderr  # StorageError's exit code
    assert f"refusing to write {link}" in r.stderr and "owned by another user" in r.stderr
    assert "Traceback" not in r.stderr
    assert target.read_text() == "their notes"


def test_cli_results_export_writes_through_own_link(tmp_path, run_cli):
    mine = _folder(tmp_path / "mine", 0o755)
    real = mine / "results.csv"
    real.write_text("old")
    (mine / "latest.csv").symlink_to(real)
    r = run_cli("results", "export", "--format", "csv", "-o", str(mine / "latest.csv"))
    assert r.returncode == 0, r.stderr
    assert real.read_text().startswith("id,created_at,model,")


def test_dev_stdout_into_a_pipe_is_written_through(tmp_path):
    # /dev/stdout -> /proc/self/fd/1 -> "pipe:[N]", which names no file: it must still open (it did not before).
    import subprocess

    code = "from workbench.core.fsutil import write_text_atomic; write_text_atomic('/dev/stdout', 'piped\\n')"
    if not os.path.exists("/dev/stdout"):
        pytest.skip("no /dev/stdout")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "piped\n"


_AS_NOBODY = r"""
import os, sys
from pathlib import Path
from workbench.core.errors import StorageError
from workbench.core.fsutil import resolve_output, write_text_atomic

base = Path(sys.argv[1])
mine = base / "mine"
mine.mkdir(mode=0o755)
(mine / "real.txt").write_text("old")
(mine / "link.txt").symlink_to("real.txt")
write_text_atomic(mine / "link.txt", "own link followed")
print((mine / "real.txt").read_text())
write_text_atomic(sys.argv[3], "via root's link")
print(Path(sys.argv[2]).read_text())
try:
    write_text_atomic(sys.argv[4], "x")
except StorageError as exc:
    print("refused:", exc)
"""


def _python_for_nobody(prefix: list[str]) -> str:
    """An interpreter uid 65534 may execute: this one, or the system python3 of the same version (fsutil needs only
    the standard library); skip when there is none."""
    import shutil
    import subprocess

    for python in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin")):
        if python is None:
            continue
        probe = subprocess.run(
            [*prefix, python, "-c", f"import sys; assert sys.version_info[:2] == {tuple(sys.version_info[:2])}"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return python
    pytest.skip("no Python of this version that uid 65534 may execute")


@needs_root
def test_as_a_normal_user_own_and_root_links_work_a_planted_one_does_not(tmp_path):
    import shutil
    import subprocess
    import tempfile

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop to a normal user")
    prefix = [setpriv, f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups", "--"]
    python = _python_for_nobody(prefix)
    repo = Path(__file__).resolve().parents[2]
    if subprocess.run([*prefix, python, "-c", "pass"], cwd=repo, capture_output=True).returncode != 0:
        pytest.skip(f"uid {OTHER_UID} cannot enter {repo}")
    # tmp_path sits in root's private folders; the user needs a folder of its own it can reach: one in /tmp.
    base = Path(tempfile.mkdtemp(prefix="wb-nobody-"))
    try:
        os.chown(base, OTHER_UID, OTHER_UID)
        # A root-owned link in a root-owned 0755 folder (as /var/run -> /run): only root could have made it.
        sysdir = _folder(base / "sys", 0o755)
        theirs = base / "theirs.txt"
        theirs.write_text("old")
        os.chown(theirs, OTHER_UID, OTHER_UID)
        (sysdir / "alias.txt").symlink_to(theirs)
        # Root's link planted in a shared sticky folder, pointing at root's file.
        shared = _folder(base / "shared", 0o1777)
        roots = base / "roots.txt"
        roots.write_text("root's file")
        (shared / "out.txt").symlink_to(roots)
        r = subprocess.run(
            [*prefix, python, "-c", _AS_NOBODY, str(base), str(theirs), str(sysdir / "alias.txt"), str(shared / "out.txt")],
            capture_output=True, text=True, cwd=repo, timeout=120, env={**os.environ, "PYTHONPATH": str(repo)},
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "own link followed"
        assert lines[1] == "via root's link"
        assert lines[2].startswith(f"refused: refusing to write {shared / 'out.txt'}") and "sticky" in lines[2]
        assert roots.read_text() == "root's file"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_export_times_through_a_link_in_a_shared_folder_is_refused_before_the_run(tmp_path):
    from workbench.core import workflow
    from workbench.core.results.store import ResultStore

    target = _victim(tmp_path)
    link = _planted_link(_folder(tmp_path / "tmp", 0o1777), target, os.geteuid())
    job = workflow.prepare(workflow.JobRequest(profile="cpu-x86_64", iterations=50, export_times=str(link)))
    with pytest.raises(StorageError, match=f"refusing to write {link}"):
        workflow.bench_and_store(job, "fp32")
    with ResultStore() as db:
        assert db.count() == 0  # refused before anything ran
    assert target.read_text() == "their notes"
