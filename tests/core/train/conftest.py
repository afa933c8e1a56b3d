"""Make the helper modules beside these tests (``_train_toys``, ``_ddp_worker``) importable in every pytest
import mode (``importlib`` does not put test folders on sys.path), including inside the DDP test's spawned
worker processes, which inherit this sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
