"""DDP: a 2-process gloo run on a global batch matches a single process on the same global batch."""

from __future__ import annotations

import socket

import torch
import torch.multiprocessing as mp
from _ddp_worker import STEPS, run, worker
from _train_toys import plain_loss, tiny_config, toy_data, toy_model

from genforge.core.train import Trainer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_gloo_matches_single_process(tmp_path):
    mp.spawn(worker, args=(2, _free_port(), tmp_path / "ddp", tmp_path), nprocs=2, join=True)
    single, seen_single = run(tmp_path / "single")
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2)]

    for step in range(STEPS):  # each rank saw its half of the same global batch
        assert ranks[0]["seen"][step].shape[0] == 4
        assert torch.equal(torch.cat([ranks[0]["seen"][step], ranks[1]["seen"][step]]), seen_single[step])
    for key, value in single.model.state_dict().items():
        assert torch.equal(ranks[0]["model"][key], ranks[1]["model"][key])
        assert torch.allclose(ranks[0]["model"][key], value, rtol=0, atol=1e-6), key
        assert torch.allclose(ranks[0]["ema"][key], single.ema.shadow[key], rtol=0, atol=1e-6), key
    assert not torch.allclose(single.model.state_dict()["0.weight"], toy_model().state_dict()["0.weight"])
    written = sorted(path.name for path in (tmp_path / "ddp").glob("*.pt"))
    assert written == ["last.pt", "step_00000002.pt", "step_00000004.pt"]
    restored = Trainer(toy_model(dropout=0.0), plain_loss, toy_data(), tiny_config(tmp_path / "ddp", steps=STEPS))
    restored.restore()
    assert torch.equal(restored.model.state_dict()["0.weight"], ranks[0]["model"]["0.weight"])
