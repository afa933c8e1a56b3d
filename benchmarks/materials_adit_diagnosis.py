"""Where ADiT loses molecule validity: decoder robustness to latent noise and the latent DiT's denoising.

On a seeded random subset of QM9 val molecules (never test), in their principal-axes frame:

1. for each VAE checkpoint given (a ``materials.adit_vae`` or ``materials.adit`` file): decode the encoder's
   posterior means plus Gaussian noise of ``sigma`` x each channel's spread (std of those means over atoms)
   and score the decoded molecules (EDM validity, atom stability, position RMSE vs the originals);
2. for the ADiT checkpoint: noise the standardised latents to time t0 of the linear path, integrate the DiT
   back to t = 0 (Euler, 100 steps per unit time, self-conditioning, no guidance) and decode; t0 = 0 is the
   plain reconstruction. A DiT that had learnt the latent distribution finely would return to valid molecules.

    python -m benchmarks.materials_adit_diagnosis --ckpt domains/materials/checkpoints/adit_qm9_perov5.pt \\
        --vae runs/materials/adit_vae/last.pt runs/materials/adit_vae_noise01/last.pt --molecules 300

Appends both tables to benchmarks/RESULTS.md and writes them as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.atomic import write_json
from genforge.core.solvers.ode import euler
from genforge.core.train.inference import load_trained
from genforge.domains.materials.adit.data import ADiTData
from genforge.domains.materials.adit.flow import ADiT, SelfConditionedDenoiser
from genforge.domains.materials.adit.flow_task import load_adit
from genforge.domains.materials.adit.representation import AllAtoms, principal_frame
from genforge.domains.materials.adit.vae import AllAtomVAE
from genforge.domains.materials.adit.vae_task import held_out, load_vae, molecules_of
from genforge.domains.materials.molecule_metrics import molecule_metrics

SIGMAS = (0.0, 0.05, 0.1, 0.2, 0.3)
START_TIMES = (0.0, 0.05, 0.1, 0.2, 0.4, 0.7)


def val_molecules(data: ADiTData, num: int) -> AllAtoms:
    """``num`` random val molecules, positions in their principal-axes frame."""
    val = held_out(data, num, 0)
    return replace(val, pos=principal_frame(val.pos, val.mask))


def scores(vae: AllAtomVAE, z: torch.Tensor, val: AllAtoms) -> dict[str, float]:
    """Validity, atom stability and position RMSE (Angstrom) of the molecules decoded from ``z``."""
    mask = val.mask
    out = vae.to_atoms(vae.decode(z * mask.unsqueeze(-1), val.label, mask), val.label, val.periodic, mask)
    metrics = molecule_metrics(molecules_of(out))
    rmse = float((out.pos - val.pos).square().sum(-1)[mask].mean().sqrt())
    return {"validity": metrics["validity"], "atom_stability": metrics["atom_stability"], "pos_rmse": rmse}


@torch.no_grad()
def robustness(vae: AllAtomVAE, val: AllAtoms, generator: torch.Generator) -> dict[str, dict[str, float]]:
    """Scores of decoded posterior means under latent noise of each ``SIGMAS`` x the channel spread."""
    mean, _ = vae.encode(val)
    spread = mean[val.mask].std(0)
    return {f"{sigma:g}": scores(vae, mean + sigma * spread * torch.randn(mean.shape, generator=generator), val)
            for sigma in SIGMAS}


@torch.no_grad()
def partial_denoising(model: ADiT, val: AllAtoms, generator: torch.Generator) -> dict[str, dict[str, float]]:
    """Scores after noising the standardised latents to each ``START_TIMES`` t0 and integrating back to 0,
    plus the mean per-atom latent error (standardised units)."""
    flow, mask = model.flow, val.mask
    keep = mask.unsqueeze(-1).to(torch.float32)
    z0 = flow.normalise(model.vae.encode(val)[0]) * keep
    rows = {}
    for t0 in START_TIMES:
        z = (1.0 - t0) * z0 + t0 * torch.randn(z0.shape, generator=generator) * keep
        if t0 > 0.0:
            grid = torch.linspace(t0, 0.0, max(round(100 * t0), 5) + 1)
            z = euler(SelfConditionedDenoiser(flow, val.label, mask), z, grid, generator=generator)
        error = float((z - z0).norm(dim=-1)[mask].mean())
        rows[f"{t0:g}"] = {**scores(model.vae, flow.denormalise(z), val), "latent_error": error}
    return rows


def markdown(rows: dict[str, dict[str, float]], key: str) -> str:
    """One table, one row per noise level; rates in %."""
    columns = list(next(iter(rows.values())))
    lines = [f"| {key} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        cells = [f"{row[c]:.3f}" if c in ("pos_rmse", "latent_error") else f"{100 * row[c]:.1f}%" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, default=Path("domains/materials/checkpoints/adit_qm9_perov5.pt"))
    parser.add_argument("--vae", type=Path, nargs="*", default=[], help="extra VAE checkpoints to compare")
    parser.add_argument("--molecules", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/materials/adit_diagnosis.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _, data = load_adit(load_trained(args.ckpt))
    val = val_molecules(data, args.molecules)
    report: dict[str, dict[str, dict[str, float]]] = {}
    parts = []
    for path in [args.ckpt, *args.vae]:
        trained = load_trained(path)
        vae = model.vae if path == args.ckpt else load_vae(trained)[0]
        report[f"robustness {path}"] = robustness(vae, val, torch.Generator().manual_seed(args.seed))
        parts.append(f"Decoder of {path}: latent noise sigma x channel spread\n\n"
                     + markdown(report[f"robustness {path}"], "sigma"))
    report["partial denoising"] = partial_denoising(model, val, torch.Generator().manual_seed(args.seed))
    parts.append(f"Latent DiT of {args.ckpt}: noised to t0, integrated back to 0\n\n"
                 + markdown(report["partial denoising"], "t0"))
    write_json(report, args.out)
    body = "\n\n".join(parts)
    print(body)
    append_result(f"ADiT diagnosis: where QM9 validity is lost ({args.molecules} random QM9 val molecules)", body)


if __name__ == "__main__":
    main()
