"""One GPU per worker (harness.gpus): the plan `--gpus`/`--workers`/`--workers-per-gpu` give, the environment each
spawned worker process receives, and the device tags of a run. Offline, on CPU: the GPU count is mocked."""
from __future__ import annotations

import multiprocessing as mp
import os

import pytest
import torch

from harness import gpus, scheduler
from harness.cli import main
from harness.gpus import CUDA_ENV, GpuError, WorkerPlan, child_environment, plan_workers
from harness.tracking.tags import device_tags
from salt.devices import describe_device


@pytest.fixture
def node(monkeypatch):
    """A machine with `n` GPUs, none listed in CUDA_VISIBLE_DEVICES unless the test sets it."""
    monkeypatch.delenv(CUDA_ENV, raising=False)

    def make(n: int) -> None:
        monkeypatch.setattr(gpus, "cuda_count", lambda: n)

    return make


def test_default_is_one_worker_per_visible_gpu(node):
    node(4)
    plan = plan_workers()
    assert plan.gpus == (("0",), ("1",), ("2",), ("3",))
    assert [plan.env(i) for i in range(plan.workers)] == [{CUDA_ENV: str(i)} for i in range(4)]
    assert not plan.in_process()


def test_without_gpus_one_cpu_worker_runs_in_this_process(node):
    node(0)
    plan = plan_workers()
    assert plan.gpus == ((),) and plan.in_process() and plan.describe() is None


def test_explicit_ids_and_fewer_workers_than_gpus(node):
    node(4)
    assert plan_workers("1, 3").gpus == (("1",), ("3",))
    assert plan_workers("auto", workers=2).gpus == (("0",), ("1",))
    assert plan_workers("3").describe() == "1 worker: w0 on GPU 3"


def test_an_invisible_id_names_the_flag_and_the_visible_gpus(node):
    node(2)
    with pytest.raises(GpuError, match=r"--gpus '0,5': GPU 5 is not visible to this process \(visible: 0, 1\): "
                                       r"pick among those, or --gpus auto"):
        plan_workers("0,5")
    with pytest.raises(GpuError, match=r"--gpus 'x': 'x' is not a GPU id: give auto"):
        plan_workers("x")


def test_more_workers_than_gpus_is_refused_unless_workers_per_gpu_says_so(node):
    node(2)
    with pytest.raises(GpuError) as err:
        plan_workers("auto", workers=3)
    msg = str(err.value)
    assert msg.startswith("--workers 3: --gpus auto gives 2 GPUs (0, 1), room for 2")
    assert "--workers 2 or fewer" in msg and "--workers-per-gpu 2" in msg and "--gpus none" in msg
    plan = plan_workers("auto", workers=3, per_gpu=2)
    assert plan.gpus == (("0",), ("1",), ("0",))
    assert plan_workers("auto", per_gpu=2).gpus == (("0",), ("1",), ("0",), ("1",))
    with pytest.raises(GpuError, match="room for 4 at 2 workers per GPU"):
        plan_workers("auto", workers=5, per_gpu=2)


def test_a_gpu_named_twice_is_refused_pointing_to_workers_per_gpu(node):
    node(2)
    with pytest.raises(GpuError, match="names GPU 1 twice: .* use --workers-per-gpu"):
        plan_workers("1,1")


@pytest.mark.parametrize("kwargs,fragment", [
    ({"workers": 0}, "--workers must be at least 1, got 0"),
    ({"per_gpu": 0}, "--workers-per-gpu must be at least 1, got 0"),
    ({"gpus": "none", "per_gpu": 2}, "--workers-per-gpu 2 shares GPUs, but there are none (--gpus none)"),
])
def test_counts_are_checked(node, kwargs, fragment):
    node(2)
    with pytest.raises(GpuError) as err:
        plan_workers(**kwargs)
    assert fragment in str(err.value)


def test_gpus_none_hides_every_gpu_from_each_worker(node):
    node(2)
    plan = plan_workers("none", workers=2)
    assert plan.gpus == ((), ()) and plan.env(0) == {CUDA_ENV: ""} and not plan.in_process()
    lone = plan_workers("none")  # this process sees GPUs: the CPU worker is a process of its own, with none
    assert lone.workers == 1 and not lone.in_process() and lone.describe() == "1 worker: w0 on CPU"


def test_slurm_one_gpu_per_task_runs_in_process_on_that_gpu(node, monkeypatch):
    """SLURM sets CUDA_VISIBLE_DEVICES=3 for a task's one GPU: `worker --gpus auto` is one worker there, in this
    process (which already sees only GPU 3), and the ids are physical ones."""
    node(1)
    monkeypatch.setenv(CUDA_ENV, "3")
    plan = plan_workers()
    assert plan.gpus == (("3",),) and plan.in_process()
    with pytest.raises(GpuError, match=r"GPU 0 is not visible .*\(visible: 3 \(CUDA_VISIBLE_DEVICES=3\)\)"):
        plan_workers("0")


def test_visible_devices_as_uuids_or_empty(node, monkeypatch):
    node(2)
    monkeypatch.setenv(CUDA_ENV, "GPU-aaa,GPU-bbb")
    assert plan_workers().gpus == (("GPU-aaa",), ("GPU-bbb",))
    assert plan_workers("GPU-bbb").gpus == (("GPU-bbb",),)
    node(0)
    monkeypatch.setenv(CUDA_ENV, "")
    assert gpus.visible_gpus() == ()
    with pytest.raises(GpuError, match=r"visible: none \(CUDA_VISIBLE_DEVICES is empty\)"):
        plan_workers("0")


def test_visible_devices_longer_than_the_count_keeps_what_cuda_accepts(node, monkeypatch):
    node(1)
    monkeypatch.setenv(CUDA_ENV, "2,7")  # CUDA stops at the first id it cannot use
    assert gpus.visible_gpus() == ("2",)


class _Recorder:
    """Stands in for a spawn context: each Process records the CUDA_VISIBLE_DEVICES of this process's environment
    when started, which is what a spawned child inherits."""

    def __init__(self):
        self.started: list[tuple[int, str | None]] = []

    def get_context(self, method):
        assert method == "spawn"  # a forked child would inherit a parent's CUDA state
        recorder = self

        class Process:
            exitcode = 0

            def __init__(self, target, args, daemon):
                self.worker, self.pid = args[5], 1000 + args[5]

            def start(self):
                recorder.started.append((self.worker, os.environ.get(CUDA_ENV)))

            def join(self, timeout=None):
                pass

        return type("Context", (), {"Process": Process})()


ARGS = ("loc", "study", "rev", "parent", "exp")


def test_each_spawned_worker_starts_with_its_own_gpus_and_the_parent_is_restored(monkeypatch):
    monkeypatch.setenv(CUDA_ENV, "0,1,2")
    recorder = _Recorder()
    monkeypatch.setattr(scheduler, "mp", recorder)
    monkeypatch.setattr(scheduler, "work", lambda *a: pytest.fail("a planned worker ran in this process"))
    plan = WorkerPlan((("2",), ("0",), ()), visible=("0", "1", "2"))
    scheduler._work_round(ARGS, plan, False, None, {}, print)
    assert recorder.started == [(0, "2"), (1, "0"), (2, "")]
    assert os.environ[CUDA_ENV] == "0,1,2"


def test_a_variable_the_parent_lacked_is_removed_again(monkeypatch):
    monkeypatch.delenv(CUDA_ENV, raising=False)
    recorder = _Recorder()
    monkeypatch.setattr(scheduler, "mp", recorder)
    scheduler._work_round(ARGS, WorkerPlan((("1",), ("0",))), False, None, {}, print)
    assert recorder.started == [(0, "1"), (1, "0")] and CUDA_ENV not in os.environ


def test_unpinned_workers_inherit_and_a_lone_one_runs_here(monkeypatch):
    monkeypatch.setenv(CUDA_ENV, "5")
    recorder = _Recorder()
    monkeypatch.setattr(scheduler, "mp", recorder)
    ran = []
    monkeypatch.setattr(scheduler, "work", lambda *a: ran.append(a))
    scheduler._work_round(ARGS, WorkerPlan.unpinned(2), False, None, {}, print)
    assert recorder.started == [(0, "5"), (1, "5")] and ran == []
    scheduler._work_round(ARGS, WorkerPlan.unpinned(1), False, None, {}, print)
    assert len(ran) == 1 and len(recorder.started) == 2


def _report_visible(out) -> None:
    out.put(os.environ.get(CUDA_ENV))


def test_a_real_spawned_child_sees_the_environment_of_its_start(monkeypatch):
    monkeypatch.setenv(CUDA_ENV, "0,1")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_report_visible, args=(out,))
    with child_environment({CUDA_ENV: "1"}):
        child.start()
    assert os.environ[CUDA_ENV] == "0,1"
    assert out.get(timeout=120) == "1"
    child.join(timeout=60)
    assert child.exitcode == 0


def test_a_cpu_run_is_tagged_with_its_device_and_torch():
    tags = device_tags(describe_device("cpu"))
    assert tags == {"salt.device": "cpu", "salt.version.torch": torch.__version__,
                    "salt.version.cuda": torch.version.cuda or "none"}


def test_gpu_details_become_device_tags():
    described = {"device": "cuda", "torch": "2.5", "cuda": "12.4", "gpu": "NVIDIA H100", "gpu_index": "3",
                 "gpu_memory_gib": "79.1"}
    assert device_tags(described) == {"salt.device": "cuda", "salt.version.torch": "2.5", "salt.version.cuda": "12.4",
                                      "salt.device.gpu": "NVIDIA H100", "salt.device.gpu_index": "3",
                                      "salt.device.gpu_memory_gib": "79.1"}


def test_the_physical_id_of_a_pinned_process(monkeypatch):
    from salt.devices import physical_id

    monkeypatch.setenv(CUDA_ENV, "3,GPU-abc")
    assert physical_id(0) == "3" and physical_id(1) == "GPU-abc"
    monkeypatch.delenv(CUDA_ENV)
    assert physical_id(1) == "1"


@pytest.mark.parametrize("argv,fragment", [
    (["run", "studies/demo.yaml", "--workers", "3", "--gpus", "0"],
     "--workers 3: --gpus 0 gives 1 GPU (0), room for 1 at 1 worker per GPU"),
    (["worker", "studies/demo.yaml", "--storage", "sqlite://", "--tracking-uri", "sqlite://", "--gpus", "4"],
     "--gpus '4': GPU 4 is not visible to this process (visible: 0, 1)"),
])
def test_the_cli_refuses_a_bad_plan_before_any_work(node, argv, fragment, capsys):
    node(2)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"salt-harness {argv[0]}: error: ") and fragment in err and "Traceback" not in err
