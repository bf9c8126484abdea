# 24789 HW1 bundle. `make help` lists the targets; `make` trains p1 and p2 and writes the theory PDF.
# The project's virtual environment when its Python runs, activated or not (a new terminal forgets it); else python3.
# (Not a mere file test: a venv whose base Python was removed, by a Homebrew upgrade say, keeps a dead link.)
VENV_PYTHON := $(if $(filter Windows_NT,$(OS)),.venv/Scripts/python.exe,.venv/bin/python)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(or $(shell $(VENV_PYTHON) -c "" >/dev/null 2>&1 && echo $(VENV_PYTHON)),python3)
endif
MNIST_DIR   ?=
CIFAR10_DIR ?=
P2_ARGS     ?=
ANDREW_ID   ?=
ZIP         ?=

# The variables reach the tools through the environment, and recipes quote them as "$$NAME": a value holding
# quotes, spaces or a semicolon stays one argument and is never run as shell text. P2_ARGS is a list of
# arguments, split like shell words by tools/with_args.py.
# MNIST_DIR is empty unless given: p1 then looks where `python p1.py` looks (beside p1.py, the working folder,
# data/mnist), so `make p1` finds the CSVs wherever the plain command would; downloads and checks use data/mnist.
# CIFAR10_DIR likewise: unless given, p2 and verify use p2.py's own search (./data first, where the PyTorch
# tutorial downloads); `make data-cifar10` downloads into data/cifar10, and p2, finding none, into ./data.
# Make expands $ in a variable given on its command line when it exports it: `override NAME := $(value NAME)`
# keeps the value as typed (make check-zip ZIP='my$1.zip' stays my$1.zip, and a $(shell ...) in a value never runs).
override MNIST_DIR := $(value MNIST_DIR)
override CIFAR10_DIR := $(value CIFAR10_DIR)
override P2_ARGS := $(value P2_ARGS)
override ANDREW_ID := $(value ANDREW_ID)
override ZIP := $(value ZIP)
export MNIST_DIR CIFAR10_DIR P2_ARGS ANDREW_ID ZIP
export MPLBACKEND = Agg
# A path with letters the console's code page lacks (Windows, output redirected) is printed with ?, not an error
export PYTHONIOENCODING ?= :replace

THEORY_PDF := theory/HW1_theory.pdf
# make data-q75's decoder, given on the command line (README, Offline development)
Q75_BUILD ?=

.DEFAULT_GOAL := all
.PHONY: all help install data data-mnist data-cifar10 data-q75 p1 p1-best p2 theory test \
        bench-p1 bench-p2-cpu zip check-zip verify clean

all: p1 p2 theory ## the main job: train p1 and p2, write every report and the theory PDF

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z0-9-]+:.*## / {printf "%-16s%s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## install the pinned Python packages (first: a Python they have wheels for, or which one to use)
	@$(PYTHON) tools/check_python.py
	$(PYTHON) -m pip install -r requirements.txt

data: ## download MNIST and CIFAR-10 (checksum-verified) into data/: tries both, then reports both
	@mnist=ok; cifar=ok; \
	$(MAKE) --no-print-directory data-mnist || mnist=FAILED; \
	$(MAKE) --no-print-directory data-cifar10 || cifar=FAILED; \
	if [ $$mnist = ok ] && [ $$cifar = ok ]; then echo "make data: MNIST ok, CIFAR-10 ok"; \
	else echo "make data: MNIST $$mnist, CIFAR-10 $$cifar (see the messages above)" >&2; exit 1; fi

data-mnist: ## download the MNIST CSVs into MNIST_DIR (default data/mnist)
	$(PYTHON) tools/get_mnist.py -- "$${MNIST_DIR:-data/mnist}"

data-cifar10: ## download the official CIFAR-10 binary version into CIFAR10_DIR (default data/cifar10)
	$(PYTHON) andrewID-HW1/p2/p2.py --download-only --data-dir="$${CIFAR10_DIR:-data/cifar10}"

# development only (README, Offline development): CIFAR-10 from a JPEG-q75 copy into CIFAR10_DIR; not in make help
data-q75:
	@test -n "$(Q75_BUILD)" && test -f "$(Q75_BUILD)" || { echo "make data-q75 needs Q75_BUILD=path/to/build.py, the decoder of a JPEG-q75 copy (README, Offline development); to download CIFAR-10: make data-cifar10" >&2; exit 2; }
	$(PYTHON) "$(Q75_BUILD)" "$${CIFAR10_DIR:-data/cifar10}" --format bin

p1: ## train the NumPy MLP (default preset) -> p1_model.npz, p1_report.pdf, p1_training.png
	$(PYTHON) andrewID-HW1/p1/p1.py

p1-best: ## train the stronger p1 preset (about 7 to 9 minutes on two cores; writes next to p1.py, or into P1_OUT)
	P1_PRESET=best $(PYTHON) andrewID-HW1/p1/p1.py

p2: ## train the CIFAR-10 CNN (fast on an NVIDIA GPU, else cpu; precision per device) -> p2_model.pkl, p2_report.pdf, p2_training.png
	$(PYTHON) tools/with_args.py P2_ARGS andrewID-HW1/p2/p2.py $${CIFAR10_DIR:+--data-dir="$$CIFAR10_DIR"}

theory: ## compute the theory answers and write theory/HW1_theory.pdf
	$(PYTHON) -m theory --pdf $(THEORY_PDF)

# Each test worker holds torch and matplotlib (about 1 GB at its peak): four at most, for laptops of many cores
test: ## run the test suite (no network, no data needed), one worker per CPU core, four at most (pytest-xdist)
	$(PYTHON) -m pytest -q -n auto --maxprocesses 4 tests

bench-p1: ## time the NumPy MLP against PyTorch on the CPU (same network and hyper-parameters)
	$(PYTHON) bench/bench_p1.py

bench-p2-cpu: ## run the CPU's default recipe (cpu) end to end and print accuracy and wall time
	$(PYTHON) bench/bench_p2_cpu.py --data-dir="$${CIFAR10_DIR:-data/cifar10}"

# make zip rewrites the theory PDF only when its sources (theory/*.py, fig5.json) differ from the fingerprint the PDF
# records. File dates cannot tell: a fresh clone gives every file the checkout's time.
zip: ## validate and build yourid-HW1.zip (+ yourid-HW1.pdf): make zip ANDREW_ID=yourid
	$(PYTHON) -m theory --pdf $(THEORY_PDF) --if-stale
	$(PYTHON) tools/bundle.py zip -- "$$ANDREW_ID"

check-zip: ## validate an existing zip without running its code: make check-zip ZIP=yourid-HW1.zip
	$(PYTHON) tools/bundle.py check -- "$$ZIP"

verify: ## re-measure both committed models on the test sets and compare with the stored numbers
	$(PYTHON) tools/verify.py $${MNIST_DIR:+--mnist-dir="$$MNIST_DIR"} $${CIFAR10_DIR:+--cifar10-dir="$$CIFAR10_DIR"}

clean: ## remove test caches, and with ANDREW_ID=yourid the zip and PDF `make zip` wrote; keeps data/ and the models
	rm -rf .pytest_cache
	$${ANDREW_ID:+rm -f "$$ANDREW_ID-HW1.zip" "$$ANDREW_ID-HW1.pdf" ".$$ANDREW_ID-HW1.zip."*.tmp}
	find . \( -name .venv -o -name venv -o -name .git \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	@if [ -n "$$ANDREW_ID" ]; then echo "kept: data/, the trained models and reports"; \
	else echo "kept: data/, the trained models and reports, and *-HW1.zip/.pdf (ANDREW_ID=yourid removes yours)"; fi
