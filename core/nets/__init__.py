"""Networks of the engine: DiT, U-Net, EGNN, CSPNet, e3nn convolutions, embeddings.

Names are imported lazily (PEP 562) so that ``import genforge.core.nets.dit`` does not pay for
torch-geometric and e3nn.
"""

from __future__ import annotations

from genforge.core.lazy import lazy_getattr

_EXPORTS = {
    "DiT": "dit", "DiTConfig": "dit", "TokenConditioning": "dit", "drop_labels": "dit",
    "UNet": "unet", "UNetConfig": "unet",
    "EGNN": "egnn", "EGNNLayer": "egnn", "EGNNDenoiser": "egnn", "CSPNet": "cspnet", "CSPLayer": "cspnet",
    "EquivariantConvolution": "equivariant", "EquivariantVectorHead": "equivariant",
    "fully_connected_edges": "edges", "graph_edges": "edges", "edge_vectors": "edges",
    "sinusoidal_embedding": "embeddings", "TimestepEmbedder": "embeddings",
    "GaussianFourierFeatures": "embeddings", "FourierFeatures": "embeddings",
    "MLP": "mlp", "seeded": "init",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
