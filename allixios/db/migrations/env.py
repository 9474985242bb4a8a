"""Alembic environment: runs every migration in one transaction, so a failed one changes nothing."""

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True, transaction_per_migration=False)
        with context.begin_transaction():
            # concurrent `migrate` calls queue behind one another instead of racing
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(421337)")
            context.run_migrations()
    engine.dispose()


run_migrations_online()
