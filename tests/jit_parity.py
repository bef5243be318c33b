"""Run one command twice in subprocesses, compiled and with NUMBA_DISABLE_JIT=1, for parity tests."""
import os
import subprocess


def run_jit_and_python(cmd: list[str], **kwargs) -> tuple[str, str]:
    """stdout of `cmd` with the JIT on, then off; asserts both runs succeed."""
    outputs = []
    for disable in ("0", "1"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=disable)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False, **kwargs)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs.append(proc.stdout)
    return outputs[0], outputs[1]
