"""Distribution is real: mirrored equals single-device, two workers agree, a killed run resumes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _worker_command(model_dir, *flags):
    return [sys.executable, "-m", "tests.distributed_worker", f"--model_dir={model_dir}", *flags]


def _result(output):
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, output[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def _run(model_dir, *flags, timeout=300):
    done = subprocess.run(_worker_command(model_dir, *flags), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return _result(done.stdout), done.stdout


@pytest.mark.slow
def test_mirrored_on_two_cpus_matches_one_device(tmp_path):
    single, _ = _run(tmp_path / "one", "--strategy=default")
    mirrored, _ = _run(tmp_path / "two", "--strategy=mirrored", "--cpu_devices=2")
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert len(single["losses"]) == 6
    # Same global batch, split in two and all-reduced: the same loss curve.
    np.testing.assert_allclose(mirrored["losses"], single["losses"], rtol=1e-4, atol=1e-5)
    assert single["checksum"] != pytest.approx(single["initial_checksum"], rel=1e-4)
    np.testing.assert_allclose(mirrored["checksum"], single["checksum"], rtol=1e-4)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multi_worker_mirrored_two_processes_agree(tmp_path):
    ports = [_free_port(), _free_port()]
    workers = []
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                     "task": {"type": "worker", "index": index}}
        workers.append(subprocess.Popen(
            _worker_command(tmp_path / f"worker{index}", "--strategy=auto"), cwd=ROOT,
            env=_env(TF_CONFIG=json.dumps(tf_config)), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=300)[0])
    finally:
        for worker in workers:
            worker.kill()
    assert [w.returncode for w in workers] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    chief, other = (_result(o) for o in outputs)
    assert chief["replicas"] == 2
    assert len(chief["losses"]) == 6
    assert chief["losses"] == other["losses"]
    assert chief["weights"] == other["weights"]
    assert chief["checksum"] == other["checksum"]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    reference, _ = _run(tmp_path / "uninterrupted", "--steps=12", "--steps_per_loop=3")
    model_dir = tmp_path / "killed"
    flags = ("--steps=12", "--steps_per_loop=3", "--sleep=0.3")
    process = subprocess.Popen(_worker_command(model_dir, *flags), cwd=ROOT, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metadata = model_dir / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if metadata.exists() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = json.loads(metadata.read_text())["epoch"]
    assert 2 <= killed_at < 4

    resumed, stdout = _run(model_dir, *flags)
    assert f"Resuming from step {killed_at * 3} of 12" in stdout
    # Only the remaining loops ran, and they end where the uninterrupted run ended.
    assert len(resumed["losses"]) == 4 - killed_at
    np.testing.assert_allclose(resumed["losses"], reference["losses"][killed_at:], rtol=1e-4)
    np.testing.assert_allclose(resumed["checksum"], reference["checksum"], rtol=1e-5)
