"""A run asks TensorFlow for its pooled CPU allocator before its first tensor (fresh processes:
the allocator is chosen once per process)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_START_A_RUN = """
import sys
import tensorflow as tf
from kzoo.recipes import lstm_classifier
from kzoo.training import Run, parse_settings
if sys.argv[2] == "allocate-first":
    tf.ones([4])
Run(parse_settings(lstm_classifier.SETTINGS, ["--output-dir", sys.argv[1], "--no-export"]))
from kzoo.training.cpu_memory import cpu_memory_pooled
print("pooled:", cpu_memory_pooled())
"""


def _start_a_run(tmp_path, order="run-first", variable=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if variable is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = variable
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", _START_A_RUN, str(tmp_path / "run"), order],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    memory_lines = [line for line in result.stdout.splitlines() if "CPU memory" in line]
    return memory_lines, result.stdout.splitlines()[-1]


def test_a_run_pools_cpu_memory_and_says_so(tmp_path):
    memory_lines, pooled = _start_a_run(tmp_path)
    assert memory_lines == ["[kzoo] CPU memory: pooled (TF_CPU_ALLOCATOR_USE_BFC=true)"]
    assert pooled == "pooled: True"
    assert memory_lines[0] + "\n" in (tmp_path / "run" / "run.log").read_text()


def _onednn_pools_on_its_own():
    """Whether this machine's TensorFlow pools CPU memory without being asked: its oneDNN
    allocator does, where its oneDNN kernels are on (by default on CPUs with AVX512-VNNI,
    AVX512-BF16 or AMX)."""
    probe = "import tensorflow as tf; print(tf.config.experimental.get_memory_info('CPU:0'))"
    env = {**os.environ, "TF_CPU_ALLOCATOR_USE_BFC": "false"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300
    )
    return result.returncode == 0


def test_the_users_setting_wins(tmp_path):
    memory_lines, pooled = _start_a_run(tmp_path, variable="false")
    if _onednn_pools_on_its_own():
        assert memory_lines == [
            "[kzoo] CPU memory: pooled by TensorFlow's oneDNN allocator "
            "(TF_CPU_ALLOCATOR_USE_BFC=false)"
        ]
        assert pooled == "pooled: True"
    else:
        assert memory_lines == ["[kzoo] CPU memory: not pooled (TF_CPU_ALLOCATOR_USE_BFC=false)"]
        assert pooled == "pooled: False"


def test_a_process_that_allocated_before_the_run_is_told_why_it_is_not_pooled(tmp_path):
    memory_lines, pooled = _start_a_run(tmp_path, order="allocate-first")
    if _onednn_pools_on_its_own():  # pooled from the first tensor on, asked or not
        assert memory_lines == ["[kzoo] CPU memory: pooled (TF_CPU_ALLOCATOR_USE_BFC=true)"]
        assert pooled == "pooled: True"
    else:
        assert memory_lines == [
            "[kzoo] CPU memory: not pooled: TensorFlow had allocated before "
            "TF_CPU_ALLOCATOR_USE_BFC=true was set"
        ]
        assert pooled == "pooled: False"


def test_without_onednn_the_users_setting_leaves_memory_unpooled(tmp_path, monkeypatch):
    # The branch a CPU without oneDNN's kernels takes, on any machine.
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    memory_lines, pooled = _start_a_run(tmp_path, variable="false")
    assert memory_lines == ["[kzoo] CPU memory: not pooled (TF_CPU_ALLOCATOR_USE_BFC=false)"]
    assert pooled == "pooled: False"
