"""Run a Python script with extra arguments taken from an environment variable, split the way a shell splits
words (quotes group, backslashes escape except on Windows, where they separate folders, a leading ~/ is the home
folder) but never executed as shell text:

    python3 tools/with_args.py VAR script.py [fixed arguments...]

The Makefile uses it for P2_ARGS, so `make p2 P2_ARGS='--epochs 2 --out "my runs"'` passes four words to p2.py,
and a value like `x; touch f` is three harmless words, never a command.
"""
import os
import shlex
import subprocess
import sys


def shell_words(text, windows=os.name == "nt"):
    """shlex.split(text), but on Windows a backslash separates folders instead of escaping (C:\\runs stays whole)."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split, lexer.commenters = True, ""
    if windows:
        lexer.escape = ""
    return list(lexer)


def command(argv, environ):
    """[python, script, fixed..., extra...] for argv = [VAR, script, fixed...]."""
    name, script, *fixed = argv
    try:
        extra = shell_words(environ.get(name, ""))
    except ValueError as e:  # an unbalanced quote
        raise ValueError(f"{name}: {e}; quote each argument that holds spaces, e.g. {name}='--out \"my runs\"'") \
            from None
    # as a shell would: make's quoting of the variable keeps its own shell from expanding ~ (--out ~/runs)
    extra = [os.path.expanduser(word) if word == "~" or word.startswith("~/") else word for word in extra]
    return [sys.executable, script, *fixed, *extra]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print("usage: python3 tools/with_args.py VAR script.py [arguments...]", file=sys.stderr)
        return 2
    try:
        cmd = command(argv, os.environ)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if os.name == "nt":   # Windows has no exec (os.execv starts a new process and returns at once)
        try:
            return subprocess.call(cmd)
        except KeyboardInterrupt:   # the script got the Ctrl-C too and says so itself
            return 130
    os.execv(cmd[0], cmd)   # the script becomes this process: its exit status and Ctrl-C are make's directly


if __name__ == "__main__":
    sys.exit(main())
