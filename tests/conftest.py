"""Suite-wide settings: one intra-op thread per pytest worker.

``make test`` runs two xdist workers on two cores; torch's default of one thread per core per worker
oversubscribes them and made small training tests ~40x slower (measured on the U-Net fit test).
"""

from __future__ import annotations

import torch

torch.set_num_threads(1)
