"""Remove p1's parse cache: `python3 tools/clean_cache.py` (or `make distclean`).

p1.py keeps one .npy per MNIST CSV it has parsed, under $P1_CACHE_DIR (default ~/.cache/hw1_p1), named after the
CSV's path, size and modification time: <folder>/<csv path>.csv.<size>-<mtime>.npy. Only files of that form are
removed, then the folders they leave empty, up to the cache folder itself: a P1_CACHE_DIR pointed at a folder
that holds other things loses nothing else.
"""
import os
import re
import sys

CACHE_FILE = re.compile(r".+\.csv\.\d+-\d+\.npy(\.tmp\d+)?")


def cache_dir(environ=os.environ):
    return environ.get("P1_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "hw1_p1")


def remove_cache(root):
    """Delete p1's cache files under `root` and the folders they leave empty; returns (files, bytes) removed."""
    root = os.path.abspath(root)
    files, size, folders = 0, 0, set()
    for folder, _, names in os.walk(root):
        for name in names:
            if CACHE_FILE.fullmatch(name):
                path = os.path.join(folder, name)
                size += os.path.getsize(path)
                os.remove(path)
                files += 1
                folders.add(folder)
    for folder in sorted(folders, key=len, reverse=True):  # deepest first
        # Climb towards the cache folder, removing each folder the deletion left empty; stop at the first that
        # still holds something, and never go above the cache folder.
        while os.path.commonpath([folder, root]) == root:
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)
    return files, size


def main():
    root = cache_dir()
    if not os.path.isdir(root):
        print(f"p1's parse cache: none at {root}")
        return 0
    try:
        files, size = remove_cache(root)
    except OSError as e:
        print(f"error: cannot clear p1's parse cache in {root}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"p1's parse cache: removed {files} file(s), {size / 1e6:.0f} MB, from {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
