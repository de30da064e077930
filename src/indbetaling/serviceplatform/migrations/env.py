from indbetaling.migrations_env import run
from indbetaling.serviceplatform.store import metadata

run(metadata)
