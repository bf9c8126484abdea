"""Does `pip install -r requirements.txt` find a wheel for every pin, on each Python and operating system a
student may have? Asks PyPI (needs the network) with `pip install --dry-run` for each Python version and platform,
nothing installed, and prints a Markdown table: the versions pip would install, or the first pin it could not find.

pip evaluates a requirement's environment marker against the Python and system running it, not the ones asked
for, so the lines that apply to each pair are picked here first and handed over without markers.

    python bench/wheel_matrix.py [--python 3.10 3.11 ...]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from packaging.requirements import Requirement   # installed with matplotlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each system: what its Python reports for environment markers (sys_platform, platform_machine), and the platform
# tags of the wheels that run on it (a tag names the oldest system a wheel runs on; pip matches tags exactly).
PLATFORMS = {
    "Linux x86_64": ("linux", "x86_64", ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                                         "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]),
    "Linux aarch64": ("linux", "aarch64", ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64",
                                           "manylinux2014_aarch64"]),
    "Windows x86_64": ("win32", "AMD64", ["win_amd64"]),
    "macOS arm64": ("darwin", "arm64", ["macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_12_0_arm64",
                                        "macosx_11_0_arm64", "macosx_11_0_universal2", "macosx_10_9_universal2"]),
    "macOS x86_64 (Intel)": ("darwin", "x86_64", ["macosx_14_0_x86_64", "macosx_11_0_x86_64", "macosx_10_13_x86_64",
                                                  "macosx_10_9_x86_64", "macosx_11_0_universal2",
                                                  "macosx_10_9_universal2"]),
}


def pins_for(python_version, sys_platform, machine, path=os.path.join(ROOT, "requirements.txt")):
    """requirements.txt's requirements that apply on that Python and system, without their markers."""
    env = {"python_version": python_version, "python_full_version": python_version + ".0",
           "sys_platform": sys_platform, "platform_machine": machine}
    pins = []
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                req = Requirement(line)
                if req.marker is None or req.marker.evaluate(env):
                    pins.append(f"{req.name}{req.specifier}")
    return pins


def resolve(python_version, platform_tags, pins, target):
    """The versions pip would install, or the first pin it could not find."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
               "--only-binary=:all:", "--ignore-requires-python", "--python-version", python_version,
               "--target", target, *[arg for tag in platform_tags for arg in ("--platform", tag)], *pins]
    done = subprocess.run(command, capture_output=True, text=True)
    out = done.stdout + "\n" + done.stderr
    if match := re.search(r"Would install (.*)", out):
        return match.group(1).strip()
    missing = re.search(r"requirement (\S+)", out)
    return f"**no wheel for {missing.group(1)}**" if missing else "pip failed: " + out.strip()[-200:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", nargs="+", default=["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"])
    args = parser.parse_args()
    print("| Python | system | pip would install |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as target:
        for version in args.python:
            for system, (sys_platform, machine, tags) in PLATFORMS.items():
                pins = pins_for(version, sys_platform, machine)
                print(f"| {version} | {system} | {resolve(version, tags, pins, target)} |", flush=True)


if __name__ == "__main__":
    main()
