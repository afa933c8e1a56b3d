# genforge: `make demo` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PIP     = $(VENV)/bin/pip -q
PY      = $(VENV)/bin/python
CONSTRAINTS = .ci/constraints.txt

.PHONY: setup demo tour test lint bench clean

$(VENV)/.installed: pyproject.toml setup.py $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install torch==2.13.0            # CPU build first: nothing below may replace it
	$(PIP) install -c $(CONSTRAINTS) -e ".[all,dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/genforge demo --out outputs/demo
	$(MAKE) tour VENV=$(VENV)

# The shipped checkpoints at work, a few minutes on CPU; outputs under outputs/tour/.
TOUR = outputs/tour
G = OMP_NUM_THREADS=2 $(VENV)/bin/genforge
tour: setup
	$(G) materials csp --composition SrTiO3 --num 3 --out $(TOUR)/materials
	$(G) ts generate --reactant tests/fixtures/rdb7/reactants.xyz --product tests/fixtures/rdb7/products.xyz --out $(TOUR)/ts.xyz
	$(G) traj simulate nbody --num 1 --seed 7 --out $(TOUR)/nbody
	$(PY) -c "import ase.io; ase.io.write('$(TOUR)/past.extxyz', ase.io.read('$(TOUR)/nbody/traj_00000.extxyz', index=':10'))"
	$(G) traj sample --condition $(TOUR)/past.extxyz --out $(TOUR)/forecast.extxyz
	$(G) pde simulate burgers --num 2 --seed 1 --out $(TOUR)/burgers
	$(G) pde control --u0 $(TOUR)/burgers/burgers.npz --target $(TOUR)/burgers/burgers.npz --refine 1 --out $(TOUR)/pde
	$(PY) -c "import numpy as np; from genforge.datasets.phantoms import phantom; np.save('$(TOUR)/phantom.npy', phantom('shepp_logan', (64, 64, 64), 3).numpy())"
	$(G) medical simulate --volume $(TOUR)/phantom.npy --views 8 --out $(TOUR)/ct8.npz
	$(G) medical reconstruct --measurement $(TOUR)/ct8.npz --method mbir-fast --steps 10 --out $(TOUR)/ct_recon.nii.gz --png $(TOUR)/ct_recon.png
	$(G) medical evaluate --recon $(TOUR)/ct_recon.nii.gz --reference $(TOUR)/phantom.npy
	$(PY) -c "from PIL import Image; from genforge.datasets.splat_objects import ObjectsConfig, generate_objects; v = generate_objects(1, ObjectsConfig(size=32, views=8), start=1_000_000); Image.fromarray((v.images[0, 0].permute(1, 2, 0) * 255).round().byte().numpy()).save('$(TOUR)/object.png')"
	$(G) splat generate --image $(TOUR)/object.png --steps 10 --out $(TOUR)/splat/scene.ply --views $(TOUR)/splat
	$(G) report $(TOUR)
	@echo "tour outputs: $(TOUR)/ (CIFs, TS xyz, forecasts extxyz, Burgers control.png, 8-view CT reconstruction); open $(TOUR)/report.html"

test: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 tests; rc=$$?; if [ $$rc -eq 5 ]; then echo 'no tests collected'; exit 1; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) -m benchmarks.sampler_shootout
	$(PY) -m benchmarks.dit_throughput

clean:
	rm -rf outputs runs .pytest_cache .ruff_cache
