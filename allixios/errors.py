"""Errors an operator can act on: each says what went wrong and how to fix it, on one line."""

from __future__ import annotations


class AllixiosError(Exception):
    """A failure with a known cause. ``fix`` tells the operator what to do next."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        return f"{text} — fix: {self.fix}" if self.fix else text


class ConfigError(AllixiosError):
    """Bad configuration or environment."""


class DatabaseError(AllixiosError):
    """The database cannot be reached or is not usable."""


class NotFoundError(AllixiosError):
    """A named thing does not exist (or belongs to another tenant)."""


class ValidationError(AllixiosError):
    """Input that cannot be accepted as given."""


class ConflictError(AllixiosError):
    """A write lost a race: stale version, held lock, duplicate."""


class BudgetExceededError(AllixiosError):
    """A call was not made because the tenant's budget would be exceeded."""


def explain_database_error(exc: BaseException) -> AllixiosError | None:
    """Turn a database exception an operator can fix into an AllixiosError, else None."""
    import psycopg

    cause = getattr(exc, "orig", None) or exc  # unwrap SQLAlchemy's wrapper
    if isinstance(cause, (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)):
        first = str(cause).splitlines()[0]
        return DatabaseError(f"the database schema is missing or out of date ({first})", fix="run `allixios db migrate`")
    if isinstance(cause, psycopg.OperationalError):
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        lowered = str(cause).lower()
        if any(m in lowered for m in ("recovery mode", "starting up", "terminating connection because of crash",
                                      "server closed the connection unexpectedly", "crash of another server process",
                                      "terminating connection due to administrator command", "shutting down")):
            # the server went away or is recovering: what was committed is safe, nothing is to be deleted
            return DatabaseError(
                f"the database connection was lost ({first})",
                fix="run the command again: it waits while the server recovers (`allixios db status` shows "
                "\"recovering\"); keep the data folder, it holds your data",
            )
        return DatabaseError(f"database connection failed: {first}", fix="check `allixios db status` and ALLIXIOS_DATABASE_URL")
    return None
