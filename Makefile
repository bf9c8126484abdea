# 24789 HW1 bundle. `make help` lists the targets; `make` trains p1 and p2 and writes the theory PDF.
PYTHON      ?= python3
MNIST_DIR   ?= data/mnist
CIFAR10_DIR ?= data/cifar10
P2_ARGS     ?=
ANDREW_ID   ?=
ZIP         ?=

export MPLBACKEND = Agg

.DEFAULT_GOAL := all
.PHONY: all help install data data-mnist data-cifar10 data-q75 p1 p1-best p2 theory test \
        bench-p1 bench-p2-cpu zip check-zip verify clean

all: p1 p2 theory ## the main job: train p1 and p2, write every report and the theory PDF

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

install: ## install the pinned Python packages
	$(PYTHON) -m pip install -r requirements.txt

data: data-mnist data-cifar10 ## download MNIST and CIFAR-10 (checksum-verified) into data/

data-mnist: ## download the MNIST CSVs into $(MNIST_DIR)
	$(PYTHON) tools/get_mnist.py "$(MNIST_DIR)"

data-cifar10: ## download the official CIFAR-10 binary version into $(CIFAR10_DIR)
	$(PYTHON) andrewID-HW1/p2/p2.py --download-only --data-dir "$(CIFAR10_DIR)"

data-q75: ## development only: build CIFAR-10 from ../shared's JPEG-q75 copy into $(CIFAR10_DIR)
	$(PYTHON) ../shared/data/cifar10/build.py "$(CIFAR10_DIR)" --format bin

p1: ## train the NumPy MLP (default preset) -> p1_model.npz, p1_report.pdf
	MNIST_DIR="$(MNIST_DIR)" $(PYTHON) andrewID-HW1/p1/p1.py

p1-best: ## train the stronger p1 preset (about 5 minutes; writes next to p1.py, or into P1_OUT)
	MNIST_DIR="$(MNIST_DIR)" P1_PRESET=best $(PYTHON) andrewID-HW1/p1/p1.py

p2: ## train the CIFAR-10 CNN (cpu or gpu-fast preset by device) -> p2_model.pkl, p2_report.pdf
	$(PYTHON) andrewID-HW1/p2/p2.py --data-dir "$(CIFAR10_DIR)" $(P2_ARGS)

theory: ## compute the theory answers and write theory/HW1_theory.pdf
	$(PYTHON) -m theory --pdf theory/HW1_theory.pdf

test: ## run the test suite (no network, no data needed)
	$(PYTHON) -m pytest -q tests

bench-p1: ## time the NumPy MLP against PyTorch on the CPU (same network and hyper-parameters)
	MNIST_DIR="$(MNIST_DIR)" $(PYTHON) bench/bench_p1.py

bench-p2-cpu: ## run the cpu preset end to end and print accuracy and wall time
	$(PYTHON) bench/bench_p2_cpu.py --data-dir "$(CIFAR10_DIR)"

zip: ## validate and build $(ANDREW_ID)-HW1.zip (+ $(ANDREW_ID)-HW1.pdf): make zip ANDREW_ID=jdoe
	$(PYTHON) tools/bundle.py zip "$(ANDREW_ID)"

check-zip: ## validate an existing zip: make check-zip ZIP=jdoe-HW1.zip
	$(PYTHON) tools/bundle.py check "$(ZIP)"

verify: ## re-measure both committed models on the test sets and compare with the stored numbers
	$(PYTHON) tools/verify.py --mnist-dir "$(MNIST_DIR)" --cifar10-dir "$(CIFAR10_DIR)"

clean: ## remove caches and build outputs (keeps data/ and the committed models)
	rm -rf .pytest_cache scratch *-HW1.zip *-HW1.pdf
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
