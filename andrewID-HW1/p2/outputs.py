"""The files one training run writes, replaced as a set: all are written under temporary names, then moved into
place together at the very end. A failure or Ctrl-C before that leaves the previous set untouched; so does a file
that cannot be replaced (on Windows, one open in another program), and the new files are then kept."""
import contextlib
import os
import tempfile

# The set a training run of p2.py writes (an --eval run writes none).
OUTPUT_NAMES = ("p2_model.pkl", "p2_report.pdf", "p2_training.png")


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
        self.kept = False     # the staged files stay when commit() could not replace the previous set

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

    def not_written(self, what, error):
        """The one-line error for a file of the set that could not be written (a full disk, say): the old set
        stays."""
        return OutputError(f"--out {self.folder}: {what} could not be written ({error.strerror or error}); "
                           f"{', '.join(self.names)} are as they were")

    def final(self, name):
        return os.path.join(self.folder, name)

    def staged(self, name):
        """The temporary path for the new `name`."""
        return self._beside(name, "new")

    def previous(self, name):
        """Where the previous `name` waits while the new set moves in."""
        return self._beside(name, "old")

    def _beside(self, name, tag):
        """A hidden path for `name` in the same folder (so each rename is atomic), with the same extension."""
        stem, ext = os.path.splitext(name)
        return os.path.join(self.folder, f".{stem}.{os.getpid()}.{tag}{ext}")

    def commit(self):
        """The previous files moved aside, then the new ones into place; if any move fails (Windows refuses to move
        a file another program holds open, a PDF in a viewer for one), the moves made are undone and the new files
        kept under their staged names, which the error gives."""
        for name in self.names:
            if not os.path.isfile(self.staged(name)):
                raise OutputError(f"{name} was not written; nothing was replaced")
        # (from, to, the output it is for): the previous files aside first, then the new ones into place
        moves = [(self.final(n), self.previous(n), n) for n in self.names if os.path.lexists(self.final(n))]
        moves += [(self.staged(n), self.final(n), n) for n in self.names]
        done = []
        try:
            for source, target, name in moves:
                os.replace(source, target)
                done.append((source, target))
        except OSError as e:
            self.kept = True   # first: should an undo fail too, the new files are still not removed
            for source, target in reversed(done):
                os.replace(target, source)
            raise OutputError(f"{self.final(name)} cannot be replaced ({e.strerror}), so nothing was replaced. The new "
                              f"files are kept in {self.folder} as "
                              f"{', '.join(os.path.basename(self.staged(n)) for n in self.names)}: close any program "
                              f"that has {name} open, then rename them to {', '.join(self.names)}") from None
        self.committed = True
        for name in self.names:
            with contextlib.suppress(OSError):   # gone already where there was none; a read-only one may stay
                os.remove(self.previous(name))

    def discard(self):
        if self.kept:
            return
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
