"""Ctrl-C (or a polite kill) that always ends the run.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside some library code (PyTorch's
argument conversion, for one) that exception can be caught and dropped, so the press would be lost and training
would go on; or it can come out as a different error. So the handler also remembers the signal: check() at every
training step and before the outputs are replaced raises it again, and p2.main() reports any error that follows
it as the interrupt it is. SIGTERM and SIGHUP (a `kill`, a closed terminal) end the run the same way, so the
outputs' temporary files are removed and the previous ones kept.
"""
import contextlib
import os
import signal
import sys
import threading

NAMES = ("SIGINT", "SIGTERM", "SIGHUP")   # Windows has no SIGHUP
_received = None    # the first signal that asked the run to end
_installed = []     # the signals routed to _on_signal
_previous = {}      # each signal's handler from before this module set one: restore() puts it back
_deferring = False  # inside deferred(): remember a signal, raise nothing


def _on_signal(signum, frame):
    global _received
    _received = _received or signum
    if not _deferring:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """A block that a signal does not cut short (the outputs' renames, which must finish together): one that comes
    meanwhile is only remembered. p2 calls check() only before this block, so a run stopped during the renames
    ends as a finished run: its new outputs are complete."""
    global _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = False


def _route(number, handler):
    _previous.setdefault(number, signal.getsignal(number))
    signal.signal(number, handler)


def install():
    """Route SIGINT, SIGTERM and SIGHUP here, unless one is ignored (as SIGHUP under nohup): it stays ignored. A
    signal an earlier run in this process received (a notebook runs `%run p2.py` in one process) is forgotten."""
    global _received
    _received = None
    _installed.clear()
    for name in NAMES:
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            _route(number, _on_signal)
            _installed.append(number)


def restore():
    """Put back the handlers from before this module set its own: in a notebook the process goes on after the run,
    and the notebook's interrupt button needs its own handler."""
    if threading.current_thread() is threading.main_thread():
        for number, handler in _previous.items():
            signal.signal(number, handler)
        _previous.clear()
        _installed.clear()   # no longer this module's for ending() to set


@contextlib.contextmanager
def installed():
    """install() for the block, then restore() where the process goes on after the run (IPython or Jupyter's
    `%run p2.py`, `python -i`). A process that ends with the run keeps the handlers; after an interrupt, ending()
    has them ignore further signals while it exits."""
    install()
    try:
        yield
    finally:
        if _process_goes_on():
            restore()


def _process_goes_on():
    return "IPython" in sys.modules or bool(sys.flags.interactive)


def received():
    return _received is not None


def check():
    """Raise KeyboardInterrupt if a signal asked the run to end, even when the first one was swallowed on its way
    up."""
    if _received is not None:
        raise KeyboardInterrupt


def ending():
    """What to tell the user, and the exit status (128 + the signal's number), once the run has stopped. Later
    signals are ignored from here (the process is about to exit, and a second Ctrl-C would only add a
    traceback); only the handlers install() set, and only from the main thread, which alone may set them."""
    if threading.current_thread() is threading.main_thread():
        for number in _installed:
            signal.signal(number, signal.SIG_IGN)
    number = _received or signal.SIGINT
    return ("Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name), 128 + int(number)


def while_starting(active):
    """Before the slow imports (torch takes seconds to load): a Ctrl-C then ends the program in one line, exit 130,
    as it does later. `active`: only when run as a program; an ignored SIGINT (a background job) stays ignored."""
    if active and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        _route(signal.SIGINT, _interrupted_while_starting)


def _interrupted_while_starting(signum, frame):
    print("interrupted (Ctrl-C) while starting; nothing was written", file=sys.stderr, flush=True)
    if _process_goes_on():
        restore()   # in a notebook, the kernel's own handler again
        sys.exit(130)
    # at once: an exception raised here can be swallowed by the import it interrupts (numpy's, inside torch's)
    os._exit(130)
