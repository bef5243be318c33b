"""`passivx.calc.jit.jit`: jitted callers link a callee's code, only what Python calls is compiled in full and
cached, and a later process runs that cached code with the same results."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from passivx.calc import jit as jitmod

ROOT = Path(__file__).resolve().parents[1]

MODULE = """
from passivx.calc.jit import jit

@jit
def scale(x, k):
    if x < 0.0:
        raise ValueError("negative")
    return x * k

@jit
def total(xs):
    s = 0.0
    for x in xs:
        s += scale(x, 3.0)
    return s
"""

SCRIPT = """
import json, sys
import numpy as np
import jitmod

out = {"total": jitmod.total(np.arange(5.0))}
try:
    jitmod.total(np.array([1.0, -1.0]))
except ValueError as e:
    out["error"] = str(e)
if sys.argv[1:] == ["python-call"]:
    out["scale"] = jitmod.scale(2.0, 3.0)
out["compiled_in_full"] = {f.__name__: len(f.signatures) for f in (jitmod.scale, jitmod.total)}
out["linked"] = {f.__name__: [type(c.library).__name__ for c in f.linked.overloads.values()]
                 for f in (jitmod.scale, jitmod.total) if hasattr(f, "linked")}
out["cache_hits"] = sum(jitmod.total.stats.cache_hits.values())
print(json.dumps(out))
"""


def _run(tmp_path: Path, *args: str, link: str = "1") -> dict:
    env = {**os.environ, "PASSIVX_JIT_LINK": link, "PASSIVX_NUMBA_CACHE": str(tmp_path / "numba"), "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.run([sys.executable, str(tmp_path / "script.py"), *args], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _cached(tmp_path: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in (tmp_path / "numba").rglob("*.nbi"))


@pytest.mark.skipif(not jitmod.link_only_enabled(), reason="link-only compiling is off for this numba version")
def test_callees_are_linked_into_the_caller_which_alone_is_compiled_in_full_and_cached(tmp_path):
    (tmp_path / "jitmod.py").write_text(MODULE)  # numba caches only functions defined in a file
    (tmp_path / "script.py").write_text(SCRIPT)
    first = _run(tmp_path)
    assert first["total"] == 30.0
    # `total` was called from Python; `scale` only from jitted code: compiled link-only, no machine code of its own
    assert first["compiled_in_full"] == {"scale": 0, "total": 1}
    assert first["linked"] == {"scale": ["_LinkOnlyLibrary"]}
    assert first["error"] == "negative"  # an exception raised in linked code reaches Python
    assert first["cache_hits"] == 0
    assert _cached(tmp_path) == ["jitmod.total"]

    second = _run(tmp_path, "python-call")  # a new process: the caller comes from the cache, nothing is linked
    assert second["cache_hits"] == 1 and second["linked"] == {}  # no link-only twin made
    assert second["total"] == 30.0 and second["error"] == "negative"
    assert second["scale"] == 6.0  # a callee called from Python is compiled in full for that
    assert second["compiled_in_full"] == {"scale": 1, "total": 1}
    assert _cached(tmp_path) == ["jitmod.scale", "jitmod.total"]


def test_without_linking_every_function_is_a_plain_cached_njit_with_the_same_results(tmp_path):
    (tmp_path / "jitmod.py").write_text(MODULE)
    (tmp_path / "script.py").write_text(SCRIPT)
    out = _run(tmp_path, link="0")
    assert out["total"] == 30.0 and out["error"] == "negative"
    assert out["compiled_in_full"] == {"scale": 1, "total": 1} and out["linked"] == {}
    assert _cached(tmp_path) == ["jitmod.scale", "jitmod.total"]


def test_linking_is_on_only_for_tested_numba_versions(monkeypatch):
    monkeypatch.delenv("PASSIVX_JIT_LINK", raising=False)
    monkeypatch.setattr(jitmod.numba, "__version__", "0.99.0")
    assert not jitmod.link_only_enabled()
    monkeypatch.setattr(jitmod.numba, "__version__", f"{jitmod.LINKED_NUMBA[-1]}.7")
    assert jitmod.link_only_enabled() == all(
        hasattr(jitmod.codegen.JITCodeLibrary, name) for name in ("_optimize_final_module", "_finalize_dynamic_globals"))
    monkeypatch.setenv("PASSIVX_JIT_LINK", "0")
    assert not jitmod.link_only_enabled()
