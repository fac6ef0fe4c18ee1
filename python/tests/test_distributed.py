"""Sharded sampling under torch.distributed (2 ranks, gloo on localhost): the gathered batch
equals one process's batch bit for bit (python/examples/sharded_sampling.py, run as a user
would)."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("torch")

EXAMPLE = pathlib.Path(__file__).parents[1] / "examples" / "sharded_sampling.py"


def test_two_ranks_gather_to_the_bits_of_one_process(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLE), "--world", "2", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "equal" in r.stdout
