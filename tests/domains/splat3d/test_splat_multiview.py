"""The multiview model: its Gaussians are a valid scene on the pixel rays, CFG / DDIM shapes, tiny training."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from genforge.core.processes.gaussian import VPCosine
from genforge.core.render import Cameras, load_ply, render_gaussians, save_ply
from genforge.core.train import TrainConfig, Trainer
from genforge.datasets.splat_objects import ObjectsConfig, generate_objects
from genforge.domains.splat3d.multiview import MultiviewConfig, MultiviewModel
from genforge.domains.splat3d.mv_data import make_example
from genforge.domains.splat3d.mv_eval import consistency_psnr
from genforge.domains.splat3d.mv_sample import sample_views
from genforge.domains.splat3d.rays import canonical_context, context_frame, turntable_viewmats
from genforge.domains.splat3d.tasks import MultiviewTaskConfig, make_loss

SIZE = 16


def _objects(num: int = 4, views: int = 4):
    return generate_objects(num, ObjectsConfig(size=SIZE, views=views, gaussians_per_part=150))


def _model(kind: str = "splat", seed: int = 0) -> MultiviewModel:
    torch.manual_seed(seed)
    return MultiviewModel(MultiviewConfig(kind=kind, size=SIZE, channels=16, depth=1, heads=2))


def _example(objects, targets: int = 2):
    order = torch.arange(objects.images.shape[1]).expand(objects.images.shape[0], -1)
    return make_example(objects.images, objects.viewmats, order, targets, 2.6)


def test_context_frame_puts_context_camera_at_canonical_pose() -> None:
    objects = _objects(2)
    frame = context_frame(objects.viewmats, torch.tensor([1, 3]), 2.6)
    assert torch.allclose(frame[[0, 1], [1, 3]], canonical_context(2, 2.6), atol=1e-5)
    # relative poses are preserved: V_a V_b^-1 is frame-independent
    rel = objects.viewmats[:, 0] @ torch.linalg.inv(objects.viewmats[:, 2])
    assert torch.allclose(frame[:, 0] @ torch.linalg.inv(frame[:, 2]), rel, atol=1e-4)
    assert torch.allclose(turntable_viewmats(6, 2.6)[0], canonical_context(1, 2.6)[0])


def test_denoiser_gaussians_are_a_valid_scene_on_the_pixel_rays(tmp_path) -> None:
    objects = _objects(2)
    example = _example(objects)
    model = _model()
    torch.nn.init.zeros_(model.net.head[-1].weight)
    torch.nn.init.zeros_(model.net.head[-1].bias)
    t = torch.full((2,), 0.5)
    splats = model.gaussians(example.x0, t, example.cond)
    n = 3 * SIZE * SIZE
    assert splats.means.shape == (2, n, 3) and splats.quats.shape == (2, n, 4) and splats.colours.shape == (2, n, 3)
    assert ((splats.scales >= 0.004) & (splats.scales <= 0.1)).all()
    assert ((splats.opacities > 0) & (splats.opacities < 1)).all()
    # zero head -> no offset, depth = radius: the context view's Gaussians sit on their own pixel centres
    context_cams = Cameras(canonical_context(1, 2.6), model.Ks[None], SIZE, SIZE)
    pixels, depths = context_cams.project(splats.means[0, :SIZE * SIZE])
    ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    assert torch.allclose(pixels[0], torch.stack([xs, ys], -1).reshape(-1, 2), atol=1e-3)
    assert (depths > 0).all()
    scene = splats.scene(1)
    save_ply(scene, tmp_path / "s.ply")
    back = load_ply(tmp_path / "s.ply")
    assert torch.allclose(back.means, scene.means) and back.num == n
    cams = Cameras(example.cond.targets[1], model.Ks.expand(2, 3, 3), SIZE, SIZE)
    image = render_gaussians(back, cams, background=torch.ones(3)).image
    direct = model.render(splats.select(1), example.cond.targets[1:2])[0]
    assert torch.allclose(image, direct, atol=1e-4)


def test_renders_are_the_x0_estimate_and_carry_gradients() -> None:
    example = _example(_objects(2))
    model = _model()
    t = torch.full((2,), 0.3)
    out = model(example.x0, t, example.cond, with_context=True)
    assert out.shape == (2, 3, 3, SIZE, SIZE) and out.min() >= -1 - 1e-5 and out.max() <= 1 + 1e-5
    out.square().mean().backward()
    grads = [p.grad for p in model.net.stem.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("kind", ["splat", "pixel", "regression"])
def test_ddim_cfg_shapes_and_guidance_effect(kind: str) -> None:
    example = _example(_objects(2))
    model = _model(kind).eval()
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(out.shape[0]))
    process = VPCosine(prediction="x0")
    runs = {scale: sample_views(model, process, example.cond, steps=3, scale=scale,
                                generator=torch.Generator().manual_seed(0)) for scale in (1.0, 3.0)}
    for sample in runs.values():
        assert sample.views.shape == (2, 2, 3, SIZE, SIZE)
        assert float(sample.views.min()) >= 0 and float(sample.views.max()) <= 1
        assert (sample.splats is None) == (kind == "pixel")
    if kind == "regression":
        assert len(calls) == 0 and torch.equal(runs[1.0].views, runs[3.0].views)
    else:
        assert len(calls) == 3 + 2 * 3  # 3 DDIM steps, twice as many model calls under CFG
        assert not torch.allclose(runs[1.0].views, runs[3.0].views)


def test_tiny_training_raises_psnr_over_init(tmp_path) -> None:
    objects = _objects(4, views=4)
    cfg = MultiviewTaskConfig(model=MultiviewConfig(kind="splat", size=SIZE, channels=16, depth=1, heads=2),
                              train=TrainConfig(steps=15, batch_size=2, lr=3e-3, ema_decay=None, progress=False,
                                                out_dir=tmp_path, ckpt_every=1000))
    cfg = replace(cfg, data=replace(cfg.data, size=SIZE, views=4))
    loss_fn = make_loss(cfg)

    def held_loss(model: MultiviewModel) -> float:
        with torch.no_grad():
            return float(loss_fn(model, (objects.images, objects.viewmats), torch.Generator().manual_seed(7))[0])

    model = _model()
    before = held_loss(model)
    Trainer(model, loss_fn, (objects.images, objects.viewmats), cfg.train).train()
    after = held_loss(model)
    assert after < 0.7 * before, (before, after)


def test_consistency_score_ranks_true_views_above_shuffled_ones() -> None:
    objects = _objects(2, views=4)
    example = _example(objects, targets=3)
    views = torch.cat([example.context[:, None], example.x0], dim=1) / 2 + 0.5
    cameras = torch.cat([canonical_context(2, 2.6)[:, None], example.cond.targets], dim=1)
    Ks = _model().Ks
    true = consistency_psnr(views, cameras, Ks, num_gaussians=192, steps=40, generator=torch.Generator())
    mixed = torch.cat([views[:, :1], views.flip(0)[:, 1:]], dim=1)  # targets of the other object
    shuffled = consistency_psnr(mixed, cameras, Ks, num_gaussians=192, steps=40, generator=torch.Generator())
    assert true > shuffled + 1.0, (true, shuffled)
