"""Tasks ``materials.adit_vae`` (stage 1, :mod:`.vae_task`) and ``materials.adit`` (stage 2, :mod:`.flow_task`)."""

from genforge.domains.materials.adit import flow_task, vae_task

__all__ = ["flow_task", "vae_task"]
