"""User-facing errors: the CLI prints these as one line and exits with code 2."""


class NasscoutError(ValueError):
    """Bad input or missing data that the user can fix; the message says what is accepted."""


class DataError(NasscoutError):
    """A data file is missing, corrupt, or from another schema; the message says how to rebuild it."""
