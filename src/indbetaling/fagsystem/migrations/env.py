from indbetaling.fagsystem import (
    claims_store,  # noqa: F401 - its tables join the metadata
    payments_store,  # noqa: F401 - its tables join the metadata
)
from indbetaling.fagsystem.store import metadata
from indbetaling.migrations_env import run

run(metadata)
