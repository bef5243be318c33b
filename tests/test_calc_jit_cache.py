"""The compiled-code cache keeps what is in use and drops folders of other sources left unused."""
import os
import time

from passivx.calc.jit import prune_stale


def test_stale_numba_cache_folders_are_pruned_and_the_current_one_kept(tmp_path):
    current, recent, stale = (tmp_path / name for name in ("a" * 16, "b" * 16, "c" * 16))
    unrelated = tmp_path / "notes"
    for folder in (current, recent, stale, unrelated):
        folder.mkdir()
        (folder / "f.nbi").write_text("x")
    old = time.time() - 40 * 86_400
    for folder in (current, stale, unrelated):
        os.utime(folder, (old, old))
    assert prune_stale(current, days=30) == [stale]
    assert current.is_dir() and recent.is_dir() and unrelated.is_dir() and not stale.exists()
    assert current.stat().st_mtime > old + 86_400  # marked as used now
