"""bench/gpu_table.py, bench/airbench94_muon_run.py and bench/p2_seeds.py: the rows of bench/gpu_p2.sh's one table
are kept as they finish, a run that did not happen says why, and the ratios and targets come out right. The
public airbench94_muon.py is never part of the repository: a stand-in with its interface is written here."""
import json
import sys

import pytest

import data
from bench import gpu_table
from fakes import write_cifar_batches


@pytest.fixture(autouse=True)
def small_batch_files(monkeypatch):
    monkeypatch.setattr(data, "RECORDS_PER_FILE", 16)


def row(name, seed, acc, train_s, **more):
    return dict(row=name, seed=seed, acc=acc, train_s=train_s, **more)


def test_table_has_every_run_the_summaries_and_ours_against_theirs(tmp_path):
    results, table = str(tmp_path / "r.jsonl"), str(tmp_path / "t.md")
    info = dict(card="NVIDIA H200", driver="580.1", torch="2.11.0", cuda="13.0", date="2026-12-03")
    for r in [row("fast", 0, 0.9070, 1.40, plain=0.898, precision="bf16"), row("fast", 1, 0.9060, 1.50),
              row("airbench94_muon", 0, 0.9060, 2.00, with_tta_s=2.20), row("airbench94_muon", 1, 0.9062, 2.00),
              row("best", 0, 0.9340, 14.0), row("airbench96", 0, 0.9350, 20.0),
              row("fast fp16", 0, None, None, note="failed: TrainingDiverged: nan")]:
        gpu_table.record(results, r, table, info)
    text = open(table).read()
    assert "NVIDIA H200" in text and "driver 580.1" in text and "torch 2.11.0" in text
    assert "| fast | 0 | 90.70 % | 89.80 % | 1.40 | bf16 |  |" in text
    assert "| airbench94_muon | 0 | 90.60 % | - | 2.00 |  | 2.20 s with its final TTA |" in text
    assert "| fast fp16 | 0 | - | - | - |  | failed: TrainingDiverged: nan |" in text
    assert "| fast | 2 | 90.65 % (90.60-90.70) | 1.45 (1.40-1.50) |" in text
    assert ("| fast / airbench94_muon (2 against 2 runs) | +0.04 | x0.72 | mean >= theirs, median time <= 0.75x "
            "theirs | yes |") in text
    assert ("| best / airbench96 (1 against 1 runs) | -0.10 | x0.70 | mean >= 93.5 %, median time <= 0.75x theirs "
            "| no |") in text
    assert "fast fp16 /" not in text   # no finished fp16 run: no ratio
    assert not (tmp_path / "t.md.tmp").exists()


def test_machine_info_without_a_gpu_says_it_is_a_dry_run(monkeypatch):
    monkeypatch.setattr(gpu_table.torch.cuda, "is_available", lambda: False)
    info = gpu_table.machine_info()
    assert "dry run" in info["card"] and info["torch"] == gpu_table.torch.__version__


FAKE_AIRBENCH = '''
import sys
with open(sys.argv[0]) as f:   # as the public file does
    code = f.read()
import torch
logging_columns_list = ["run", "epoch", "val_acc", "tta_val_acc", "time_seconds"]
def print_columns(columns, is_head=False, is_final_entry=False):
    print(columns)
def print_training_details(variables, is_final_entry):
    print([variables.get(c) for c in logging_columns_list])
class CifarLoader:
    def __init__(self, path, train=True, batch_size=500, aug=None):
        data = torch.load(path + ("/train.pt" if train else "/test.pt"), map_location=torch.device("cuda"))
        self.images, self.labels, self.batch_size = data["images"], data["labels"], batch_size
class CifarNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
def main(run, model):
    loader = CifarLoader("cifar10", batch_size=2000)
    assert loader.batch_size == 4 and loader.images.shape[1:] == (32, 32, 3)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    time_seconds = 0.0
    for epoch in range(2):
        time_seconds += 1.5
        val_acc = 0.5 + epoch / 10
        print_training_details(locals(), is_final_entry=False)
    tta_val_acc = 0.75 if run != "warmup" else 0.1
    time_seconds += 0.25
    epoch = "eval"
    print_training_details(locals(), is_final_entry=True)
    return tta_val_acc
'''


@pytest.fixture
def undo_dry_run_patches(monkeypatch):
    """The wrapper's dry run patches torch (its loads, CUDA timer and compiler): put back after the test."""
    import torch
    for owner, name in ((torch, "load"), (torch.cuda, "Event"), (torch.cuda, "synchronize")):
        monkeypatch.setattr(owner, name, getattr(owner, name))
    # torch's config modules are patched with their own API: monkeypatch's undo leaves this one unreadable
    with torch._dynamo.config.patch(disable=torch._dynamo.config.disable):
        yield


@pytest.mark.usefixtures("undo_dry_run_patches")
def test_airbench94_muon_wrapper_keeps_its_own_figures(tmp_path, monkeypatch):
    from bench import airbench94_muon_run
    write_cifar_batches(tmp_path / "data" / "cifar-10-batches-bin", records_per_file=16)
    (tmp_path / "airbench94_muon.py").write_text(FAKE_AIRBENCH)
    results = tmp_path / "r.jsonl"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bench/airbench94_muon_run.py", "--file", "airbench94_muon.py",
                                      "--data-dir", "data", "--work-dir", "work", "--seeds", "3", "4",
                                      "--results", str(results), "--device", "cpu", "--dry-batch", "4"])
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "airbench94_muon_run.py").write_text("")   # what sys.argv[0] names
    assert airbench94_muon_run.main() == 0
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["seed"] for r in rows] == [3, 4]
    assert rows[0]["acc"] == 0.75 and rows[0]["plain"] == pytest.approx(0.6)
    assert rows[0]["train_s"] == 3.0 and rows[0]["with_tta_s"] == 3.25 and "warmup_s" in rows[0]


def test_p2_seeds_trains_each_seed_and_records_it(tmp_path):
    from bench import p2_seeds
    write_cifar_batches(tmp_path / "cifar-10-batches-bin", records_per_file=16)
    results, table = tmp_path / "r.jsonl", tmp_path / "t.md"
    code = p2_seeds.main(["--row", "fast", "--seeds", "0", "1", "--data-dir", str(tmp_path), "--results",
                          str(results), "--table", str(table), "--", "--preset", "fast", "--device", "cpu",
                          "--precision", "fp32", "--batch-size", "8", "--epochs", "1", "--set", "widths=8,16,16",
                          "--set", "eval_batch_size=8"])
    assert code == 0
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["row"], r["seed"], r["precision"]) for r in rows] == [("fast", 0, "fp32"), ("fast", 1, "fp32")]
    assert all(0 <= r["acc"] <= 1 and r["train_s"] > 0 for r in rows)
    assert "| fast | 2 |" in table.read_text()


def test_p2_seeds_records_a_row_p2_refuses(tmp_path):
    from bench import p2_seeds
    results = tmp_path / "r.jsonl"
    code = p2_seeds.main(["--row", "fast fp8", "--seeds", "0", "--data-dir", str(tmp_path), "--results",
                          str(results), "--", "--preset", "fast", "--precision", "fp8"])
    assert code == 2
    (r,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert r["acc"] is None and r["note"].startswith("not run: p2.py refuses") and "fp8" in r["note"]


def test_p2_seeds_goes_on_eagerly_when_the_compiled_network_fails(tmp_path, monkeypatch):
    import torch
    from bench import p2_seeds

    class Broken(torch.nn.Module):   # a compiled network that fails, as the compiled amax pool once did (NaN)
        def __init__(self, model):
            super().__init__()
            self._orig_mod = model   # where torch.compile keeps the network it wraps

        def forward(self, x):
            raise RuntimeError("boom")
    monkeypatch.setattr(p2_seeds.p2, "compile_model", lambda model, device, mode: Broken(model))
    write_cifar_batches(tmp_path / "cifar-10-batches-bin", records_per_file=16)
    results = tmp_path / "r.jsonl"
    code = p2_seeds.main(["--row", "fast", "--seeds", "0", "--data-dir", str(tmp_path), "--results", str(results),
                          "--", "--preset", "fast", "--compile", "--device", "cpu", "--precision", "fp32",
                          "--batch-size", "8", "--epochs", "1", "--set", "widths=8,16,16", "--set",
                          "eval_batch_size=8"])
    assert code == 0
    failure, run = [json.loads(line) for line in results.read_text().splitlines()]
    assert failure["acc"] is None and "failed in the warm-up: RuntimeError: boom" in failure["note"]
    assert run["seed"] == 0 and run["acc"] is not None and run["note"] == "eager (compiled failed, above)"


def test_the_commit_the_caller_names_comes_before_the_copys_own_git(monkeypatch):
    # the GPU machine's copy of the tree can carry git metadata older than the files that run there
    monkeypatch.setenv("P2_COMMIT", "c0ffee1")
    assert gpu_table.machine_info()["commit"] == "c0ffee1"
    monkeypatch.delenv("P2_COMMIT")
    assert gpu_table.machine_info()["commit"] != "c0ffee1"
