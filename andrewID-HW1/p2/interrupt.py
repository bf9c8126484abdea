"""Ctrl-C that always ends the run.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside some library code (PyTorch's
argument conversion, for one) that exception can be caught and dropped, so the press would be lost and training
would go on; or it can come out as a different error. So the handler also remembers the press: check() at every
training step and before the outputs are replaced raises it again, and p2.main() reports any error that follows a
press as the interrupt it is.
"""
import signal

_pressed = False


def _on_ctrl_c(signum, frame):
    global _pressed
    _pressed = True
    raise KeyboardInterrupt


def install():
    """Route SIGINT here, unless it is ignored (as under nohup): then it stays ignored."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_ctrl_c)


def pressed():
    return _pressed


def check():
    """Raise KeyboardInterrupt if Ctrl-C was pressed, even when the first one was swallowed on its way up."""
    if _pressed:
        raise KeyboardInterrupt
