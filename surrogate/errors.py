"""User-facing errors: the CLI prints these as one line and exits with code 2."""

from __future__ import annotations


class NasscoutError(ValueError):
    """Bad input or missing data that the user can fix; the message says what is accepted."""


class DataError(NasscoutError):
    """A data file is missing, corrupt, or from another schema; the message says how to rebuild it."""


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error (what, which path, what usually fixes it)."""
    import errno

    what = exc.strerror or str(exc) or type(exc).__name__
    # os.replace(tmp, target) names the target second: that is the path the user knows
    name = getattr(exc, "filename2", None) or getattr(exc, "filename", None)
    where = f" ({name})" if name else ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make the folder writable or choose another (NASSCOUT_HOME sets the cache folder)"
    elif exc.errno in (errno.EISDIR, errno.ENOTDIR, errno.EEXIST):
        fix = "a folder stands where a file should be (or the reverse): move it away"
    elif exc.errno == errno.ENOSPC:
        fix = "free some disk space"
    else:
        fix = "check the path"
    return f"{what}{where}; {fix}"
