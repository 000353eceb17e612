"""Data-parallel training under torchrun, on the CPU with gloo and 2 processes: one run dir that rank 0 alone
writes, identical weights on the ranks, 2 ranks x batch b training as 1 process x batch 2b, exact resume with
the same or another number of processes; and the bad setups, as one-paragraph errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import FAST, ganlab_cli, read_scalars, tiny_trainer

import ganlab
from ganlab.errors import GanlabError
from ganlab.models.conv import ConvDiscriminator, ConvGenerator
from ganlab.objectives.penalties import GradientPenalty, Penalty
from ganlab.shares import Share
from ganlab.training import distributed
from ganlab.training.distributed import FOLLOWER_ARGS, Ranks

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
WORKER = Path(__file__).with_name("ddp_worker.py")
# 2 ranks and 1 process sum the same numbers in another order: float32 rounding, grown over the steps (measured
# here: at most 2e-6 of a gradient norm, 1e-7 of a loss), relative to values above 1
TOLERANCE = 1e-5
COMPARED = ("Loss/D", "Loss/G", "GradNorm/D", "GradNorm/G")  # and D's outputs: probabilities (gan) or a critic's


def torchrun(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*TORCHRUN, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        pytest.fail(f"torchrun {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def max_difference(a: Path, b: Path, tags: tuple[str, ...], steps: range | list[int]) -> float:
    """The largest difference of ``tags`` between two runs at ``steps`` (both must have logged them all), relative
    to values above 1."""
    sa, sb = read_scalars(a), read_scalars(b)
    worst = 0.0
    for tag in tags:
        va, vb = dict(sa[tag]), dict(sb[tag])
        assert set(steps) <= va.keys() & vb.keys(), tag
        worst = max(worst, *(abs(va[s] - vb[s]) / max(1.0, abs(va[s])) for s in steps))
    return worst


def test_torchrun_writes_one_run_that_trains_as_one_process_with_the_global_batch(tmp_path):
    """`torchrun -m ganlab train` (MLP on grid25, lazy R1): one run dir under outputs/runs/<now>, made and written
    by rank 0 only; 2 ranks x 16 log what 1 process x 32 logs on the same data and noise."""
    # device=cpu: 2 processes on the CPU over gloo, on any machine (on a GPU machine, each would want a GPU)
    common = ["data=grid25", *FAST, "trainer.log_every=1", "penalty.every=4", "device=cpu"]
    ddp = torchrun("-m", "ganlab", "train", *common, "trainer.batch_size=16", cwd=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["outputs"]  # the other rank's Hydra wrote nothing
    (run,) = (tmp_path / "outputs" / "runs").iterdir()
    assert sorted(p.name for p in (run / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    assert (run / "metrics.json").is_file() and (run / "checkpoints" / "last.pt").is_file()
    assert ddp.stdout.count("ganlab: training model=gan") == 1 and "global batch 32" in ddp.stdout
    tiny_trainer(tmp_path / "single", *common, "trainer.batch_size=32").fit()  # an MLP: fp32 on the CPU, as under DDP
    assert max_difference(run, tmp_path / "single", (*COMPARED, "D/real", "D/fake"), range(1, 21)) < TOLERANCE
    assert max_difference(run, tmp_path / "single", ("Penalty/r1",), range(4, 21)) < TOLERANCE  # from D step 4


def test_ranks_stay_identical_and_resume_exactly_with_any_number_of_processes(tmp_path, capsys):
    """A tiny conv (wgan_gp: lazy GP, 2 critic steps) on digits. 2 ranks x 8 = 1 process x 16; after 12 steps the
    ranks' G and D are bitwise equal; a DDP run resumed under DDP logs what the uninterrupted one did, and a
    single-process checkpoint resumed under DDP, or a DDP checkpoint in a single process, goes on alike."""
    # fp32: on a CPU with bf16 units (AVX512-BF16, AMX) precision=auto autocasts the convolutions to bf16, whose
    # rounding of 2 x 8 and 1 x 16 differs by ~1e-4 from the first step
    # logs every 5 steps: the half run saves (step 6) inside a window, which the resumed ranks must continue from
    # the ranks' average, not rank 0's share
    common = ["model=wgan_gp", "data=digits", "model.g_norm=layer", "penalty.every=2", "trainer.n_critic=2", *FAST,
              "trainer.log_every=5", "eval.at_end=false", "device=cpu", "device.precision=fp32"]
    tiny_trainer(tmp_path / "single", *common, "trainer.batch_size=16", "trainer.steps=6").fit()
    ddp = torchrun(str(WORKER), str(tmp_path), *common, "trainer.batch_size=8", "trainer.steps=12", cwd=tmp_path)
    assert "trained by 1 process(es) with a global batch of 16" in ddp.stdout
    one = ganlab_cli(capsys, "train", f"resume={tmp_path / 'half_copy'}", "trainer.batch_size=16",
                     "trainer.steps=12").stdout
    assert "trained by 2 process(es) with a global batch of 16 (2 x 8)" in one

    ranks = [torch.load(tmp_path / f"weights_{r}.pt", weights_only=True) for r in (0, 1)]
    for net in ("G", "D"):
        assert not any(k.startswith("module.") for k in ranks[0][net])
        assert all(torch.equal(ranks[0][net][k], ranks[1][net][k]) for k in ranks[0][net]), net
    tags = (*COMPARED, "D/critic_real", "D/critic_fake", "Penalty/gp", "Wasserstein/estimate")
    full = tmp_path / "full"
    # resumed under DDP: exact but for the rounding of the ranks' average of the saved window (1e-9; rank 0's
    # share instead of the average was 2e-3 off)
    assert max_difference(full, tmp_path / "half", tags, [5, 10, 12]) < 1e-7
    assert max_difference(full, tmp_path / "single", tags, [5, 10, 12]) < TOLERANCE  # 1 process, then 2
    assert max_difference(full, tmp_path / "half_copy", tags, [10, 12]) < TOLERANCE  # 2 processes, then 1


def test_torchrun_with_device_cuda_on_a_machine_without_gpus_is_one_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = torchrun("-m", "ganlab", "train", "data=grid25", *FAST, "device=cuda", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("ganlab train: error: device=cuda under torchrun") == 1  # one paragraph, once
    assert "device=cpu" in proc.stderr
    assert f'File "{Path(ganlab.__file__).parent}' not in proc.stderr  # no traceback from ganlab's code


# ----------------------------------------------------------------------------------------- in-process logic
def test_a_share_is_a_ranks_rows_of_the_global_draw():
    torch.manual_seed(0)
    whole = torch.randn(6, 3)
    shares = []
    for rank in (0, 1):
        torch.manual_seed(0)
        shares.append(Share(rank, 2)(torch.randn, 3, 3))
    assert torch.equal(torch.cat(shares), whole)
    assert Share(1, 2)(lambda n: (torch.arange(n), None), 2)[0].tolist() == [2, 3]
    penalty = GradientPenalty()
    penalty.share = Share(1, 2)
    torch.manual_seed(0)
    alpha = torch.rand(4, 1)[2:]
    torch.manual_seed(0)
    points = penalty.points(torch.ones(2, 1), torch.zeros(2, 1))  # alpha * 1 + (1 - alpha) * 0
    assert torch.equal(points, alpha)


def test_other_ranks_hydra_writes_nothing_and_a_sweep_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert distributed.hydra_args(["model=gan", "hydra.run.dir=x"]) == ["model=gan", *FOLLOWER_ARGS]
    with pytest.raises(GanlabError, match="submitit"):
        distributed.hydra_args(["-m", "seed=0,1"])
    monkeypatch.setenv("RANK", "0")
    assert distributed.hydra_args(["model=gan", "hydra.run.dir=x"]) == ["model=gan", "hydra.run.dir=x"]


def test_more_processes_than_gpus_is_an_error_that_names_the_fix(monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    cfg = OmegaConf.create({"type": "cuda", "precision": "auto", "channels_last": None})
    assert Ranks(3, 8, 1, 2).device(cfg) == torch.device("cuda", 1)
    with pytest.raises(GanlabError, match=r"started 4 processes on this machine, but it has 2 CUDA GPU\(s\).*"
                                          r"--nproc_per_node=2"):
        Ranks(0, 4, 0, 4).device(cfg)


def test_sync_bn_converts_batchnorm_and_refuses_what_it_cannot_do():
    def nets():
        return ConvGenerator(8, (1, 16, 16), 4, "batch"), ConvDiscriminator((1, 16, 16), 4, "batch")

    ranks, cuda = Ranks(0, 2, 0, 2), torch.device("cuda")
    G, D = nets()
    keys = (list(G.state_dict()), list(D.state_dict()))
    G, D = ranks.sync_batchnorm(G, D, cuda, Penalty())
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in D.modules())
    assert (list(G.state_dict()), list(D.state_dict())) == keys  # checkpoints fit either way
    with pytest.raises(GanlabError, match="CUDA GPUs only"):
        ranks.sync_batchnorm(*nets(), torch.device("cpu"), Penalty())
    with pytest.raises(GanlabError, match="model.d_norm=layer"):
        ranks.sync_batchnorm(*nets(), cuda, GradientPenalty())
