"""`make install`'s first step: is this a Python the pinned packages have wheels for? If not, one line saying which
Python to use, where pip would only say "no matching distribution" (after trying to compile NumPy, at times).

Written to run on any Python, however old (no f-strings): macOS's own python3 is 3.9, RHEL 8's is 3.6.
"""
import platform
import subprocess
import sys

OLDEST, NEWEST = (3, 10), (3, 15)   # the Pythons requirements.txt has pins for
INTEL_MAC_NEWEST = (3, 12)          # PyTorch 2.2.2, its last release for Intel Macs, has wheels up to Python 3.12
FIX = ("Make the virtual environment again with such a Python (delete .venv, then for one python3.12 -m venv .venv, on "
       "Windows py -3.12 -m venv .venv; python.org has installers) and run make install again")
ROSETTA_FIX = ("Install an Apple-silicon Python (python.org's installer, or Homebrew's in /opt/homebrew), open the "
               "Terminal without Rosetta, make the virtual environment again with it and run make install again")


def problem(version, system, machine, translated=False):
    """Why the pins cannot install (None if they can): `version` as sys.version_info, `system` and `machine` as
    platform.system() and platform.machine(); `translated`: an Intel build run by Rosetta on an Apple-silicon Mac."""
    major_minor = tuple(version[:2])
    here = "this is Python %d.%d" % major_minor
    if not OLDEST <= major_minor <= NEWEST:
        return "HW1 needs Python %d.%d to %d.%d; " % (OLDEST + NEWEST) + here
    if translated:
        return ("HW1 needs an Apple-silicon (arm64) Python; " + here + " for Intel Macs, run by Rosetta: it would get "
                "PyTorch's last Intel release and run it emulated, several times slower")
    if system == "Darwin" and machine == "x86_64" and major_minor > INTEL_MAC_NEWEST:
        return ("on an Intel Mac HW1 needs Python 3.10 to %d.%d (PyTorch's last release for it, 2.2.2, has wheels for "
                "no newer one); " % INTEL_MAC_NEWEST + here)
    return None


def runs_under_rosetta():
    """True for an Intel (x86_64) process on an Apple-silicon Mac; sysctl names it only on macOS 11 and newer."""
    if platform.system() != "Darwin" or platform.machine() != "x86_64":
        return False
    try:
        out = subprocess.check_output(["sysctl", "-n", "sysctl.proc_translated"], stderr=subprocess.STDOUT)
    except (OSError, subprocess.CalledProcessError):
        return False
    return out.strip() == b"1"


def main():
    translated = runs_under_rosetta()
    why = problem(sys.version_info, platform.system(), platform.machine(), translated)
    if why:
        sys.exit("make install: %s (%s). %s" % (why, sys.executable, ROSETTA_FIX if translated else FIX))


if __name__ == "__main__":
    main()
