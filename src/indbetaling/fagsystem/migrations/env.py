from indbetaling.fagsystem.store import metadata
from indbetaling.migrations_env import run

run(metadata)
