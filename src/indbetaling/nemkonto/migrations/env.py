from indbetaling.migrations_env import run
from indbetaling.nemkonto.store import metadata

run(metadata)
