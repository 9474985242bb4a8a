"""Permanent errors fail a step at once; transient ones are left to the step's RetryPolicy.

Permanent: the input or the set-up is wrong, so the next attempt fails the same way (validation,
not found, configuration, authentication/no usable model, budget, and SQL the schema cannot run —
psycopg's ProgrammingError, e.g. a missing column before `allixios db migrate`). Such an error becomes
``dg.Failure(allow_retries=False)`` whose description is the error's one line with its fix — the
headline the UI shows — and whose cause is the original exception. Everything else (a dropped
connection, a provider outage that outlasted the LLM layer's own retries, a lost lock race) raises
as is, and the asset's ``RetryPolicy`` retries it.
"""

from __future__ import annotations

import contextlib

import dagster as dg

from allixios.ai.selection import NoModelAvailableError
from allixios.errors import AllixiosError, BudgetExceededError, ConfigError, NotFoundError, ValidationError

PERMANENT: tuple[type[AllixiosError], ...] = (
    ValidationError, NotFoundError, ConfigError, BudgetExceededError, NoModelAvailableError,
)


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PERMANENT) or bool(getattr(exc, "permanent", False))


@contextlib.contextmanager
def fail_fast():
    """Inside a step: turn a permanent AllixiosError into a non-retried Failure with its one line."""
    import psycopg

    try:
        yield
    except psycopg.ProgrammingError as exc:
        from allixios.errors import DatabaseError, explain_database_error

        explained = explain_database_error(exc) or DatabaseError(str(exc).strip().splitlines()[0])
        raise _failure(explained) from exc
    except AllixiosError as exc:
        if not is_permanent(exc):
            raise
        raise _failure(exc) from exc


def _failure(exc: AllixiosError) -> dg.Failure:
    return dg.Failure(
        description=exc.one_line(),
        metadata={"error_class": type(exc).__name__, "fix": exc.fix or "", "retried": False},
        allow_retries=False,
    )
