"""Atomic writes never replace a device, FIFO or symlink with a regular file."""

import os
import stat

import pytest

from workbench.core.errors import StorageError
from workbench.core.fsutil import write_text_atomic


def test_dev_null_is_written_through_not_replaced():
    write_text_atomic("/dev/null", "results")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dev_full_gives_a_storage_error_and_stays_a_device():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(StorageError, match="disk is full"):
        write_text_atomic("/dev/full", "results")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_symlink_target_is_replaced_and_the_link_kept(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_fifo_is_written_through(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_text_atomic(fifo, "streamed")
    reader.join(5)
    assert got == ["streamed"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
