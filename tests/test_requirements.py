"""requirements.txt: on every Python and system a student may have, pip takes exactly one pin of each package.
(Whether PyPI has those wheels needs the network: `python bench/wheel_matrix.py`.)"""
import re

import pytest

from bench import wheel_matrix

PACKAGES = {"numpy", "matplotlib", "torch", "torchvision", "tqdm", "pytest", "pytest-xdist"}
PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]


def pinned(python, system):
    sys_platform, machine, _ = wheel_matrix.PLATFORMS[system]
    pins = wheel_matrix.pins_for(python, sys_platform, machine)
    return dict(re.fullmatch(r"([\w-]+)==([\w.]+)", pin).groups() for pin in pins), len(pins)


@pytest.mark.parametrize("system", list(wheel_matrix.PLATFORMS))
@pytest.mark.parametrize("python", PYTHONS)
def test_each_python_and_system_gets_one_exact_pin_of_each_package(python, system):
    versions, count = pinned(python, system)
    assert set(versions) == PACKAGES and count == len(PACKAGES)


def test_the_pins_that_differ_go_where_their_wheels_are():
    assert pinned("3.11", "Linux x86_64")[0]["torch"] == "2.14.1"
    assert pinned("3.10", "Windows x86_64")[0]["numpy"] == "2.2.6"       # numpy 2.3 and later need Python 3.11
    assert pinned("3.15", "macOS arm64")[0]["torch"] == "2.15.0"          # the first torch for Python 3.15
    intel_mac = pinned("3.12", "macOS x86_64 (Intel)")[0]
    assert (intel_mac["torch"], intel_mac["numpy"]) == ("2.2.2", "1.26.4")   # PyTorch's last for Intel Macs
