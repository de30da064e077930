from indbetaling.finance.store import metadata
from indbetaling.migrations_env import run

run(metadata)
