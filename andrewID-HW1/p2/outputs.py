"""The files one training run writes, replaced as a set: all are written under temporary names, then moved into
place together at the very end. A failure or Ctrl-C before that leaves the previous set untouched."""
import os
import tempfile


class OutputError(Exception):
    """The output folder cannot be created or written; the message says which folder and what to do."""


class OutputSet:
    """Use as `with OutputSet(folder, names) as out:`; write each file to out.staged(name), then call
    out.commit(). Leaving the block without commit() removes the staged files, and any folder the set created
    if it is still empty."""

    def __init__(self, folder, names):
        self.folder = os.path.abspath(folder)
        self.names = tuple(names)
        self.created = []     # folders made by prepare(), deepest last
        self.committed = False

    def prepare(self):
        """Create the folder if needed and prove it writable, before any work is done."""
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise OutputError(f"--out {self.folder}: is a file, not a folder; choose another output folder")
        missing, parent = [], self.folder
        while not os.path.exists(parent):
            missing.insert(0, parent)
            parent = os.path.dirname(parent)
        try:
            for folder in missing:
                os.mkdir(folder)
                self.created.append(folder)
            fd, probe = tempfile.mkstemp(prefix=".p2_write_test.", dir=self.folder)
            os.close(fd)
            os.remove(probe)
        except OSError as e:
            self._remove_created()
            raise OutputError(f"--out {self.folder}: cannot write there ({e.strerror}); "
                              "choose a folder you can write to") from None
        for name in self.names:
            if os.path.isdir(self.final(name)):
                self._remove_created()
                raise OutputError(f"--out {self.folder}: {name} there is a folder; move it away or choose another "
                                  "output folder")
        return self

    def final(self, name):
        return os.path.join(self.folder, name)

    def staged(self, name):
        """The temporary path for `name`: hidden, in the same folder (so the rename is atomic), same extension."""
        stem, ext = os.path.splitext(name)
        return os.path.join(self.folder, f".{stem}.{os.getpid()}.new{ext}")

    def commit(self):
        for name in self.names:
            if not os.path.isfile(self.staged(name)):
                raise OutputError(f"{name} was not written; nothing was replaced")
        for name in self.names:
            os.replace(self.staged(name), self.final(name))
        self.committed = True

    def discard(self):
        for name in self.names:
            try:
                os.remove(self.staged(name))
            except FileNotFoundError:
                pass
        self._remove_created()

    def _remove_created(self):
        for folder in reversed(self.created):
            try:
                os.rmdir(folder)       # only if still empty: never remove anything the run did not make
            except OSError:
                break
        self.created = []

    def __enter__(self):
        return self.prepare()

    def __exit__(self, *exc):
        if not self.committed:
            self.discard()
        return False
