"""The project's one error type for mistakes a user can fix, and the runner of its programs.

A `UsageError` names the culprit (file and line, `--flag=value` with the allowed values, the
directory and what it lacks). Every program's `__main__` calls `run_program(main)`: a
`UsageError` (or a flag error) ends the program with exit status 1 (2 for flags) and one
`error: ...` line on stderr; `--verbose` or `TFBERT_DEBUG=1` adds the traceback. Any other
exception is a bug and keeps its traceback.

    if __name__ == "__main__":
        flags.mark_flag_as_required("model_dir")
        run_program(main)
"""

import contextlib
import errno
import os
import sys
import traceback

from absl import app, flags

# What a failed write says when the disk, the permissions or the path are at fault.
_WRITE_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                 errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                 errno.EROFS: "read-only file system", errno.ENOTDIR: "a path part is a file"}
_WRITE_MESSAGES = {"No space left": "no space left on the device",
                   "Disk quota": "disk quota exceeded",
                   "Permission denied": "permission denied",
                   "Read-only file system": "read-only file system",
                   "Not a directory": "a path part is a file"}


class UsageError(ValueError):
    """A mistake the user can fix; programs print it as one `error: ...` line.

    A `ValueError`, so callers (and tests) that catch `ValueError` keep working.

    Args:
        message: str, one sentence naming the culprit and, when there is one, the fix.
        exit_code: int, the program's exit status (default 1; a stopped training run
            uses 128 + the signal number, as shells report a signal).
    """

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


def write_problem(error):
    """What went wrong in a failed write (`error` an OSError or a tf.errors.OpError), or
    None when `error` is not a disk, permission or path problem."""
    if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS:
        return _WRITE_ERRNOS[error.errno]
    text = str(error)
    for needle, problem in _WRITE_MESSAGES.items():
        if needle in text:
            return problem
    return None


@contextlib.contextmanager
def writing(what):
    """Turns a failed write under `what` (e.g. "--model_dir=runs/x") into a `UsageError`."""
    try:
        yield
    except UsageError:
        raise
    except Exception as e:  # OSError, h5py's OSError, tf.errors.{PermissionDenied,...}
        problem = write_problem(e)
        if problem is None:
            raise
        raise UsageError(f"cannot write {what}: {problem} ({_one_line(e)}); what was saved "
                         "before is intact.") from e


def _one_line(value):
    return " ".join(str(value).split())


def _debugging():
    return (os.environ.get("TFBERT_DEBUG", "") not in ("", "0") or "--verbose" in sys.argv
            or ("verbose" in flags.FLAGS and flags.FLAGS["verbose"].value))


def _fail(error, exit_code):
    if _debugging():
        traceback.print_exception(error, file=sys.stderr)
    print(f"error: {_one_line(error)}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


def _parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        # absl's own message names the flag, the value and, for enums, the allowed values.
        _fail(e, 2)


def run_program(main):
    """`absl.app.run(main)` with one-line errors (see the module docstring)."""
    if "verbose" not in flags.FLAGS:
        flags.DEFINE_boolean("verbose", False, "On an error, show the traceback (as does "
                             "TFBERT_DEBUG=1).")

    def guarded(argv):
        try:
            return main(argv)
        except UsageError as e:
            _fail(e, e.exit_code)
        except (app.UsageError, flags.Error) as e:  # flag combinations checked in `main`
            _fail(e, 2)

    app.run(guarded, flags_parser=_parse_flags)
