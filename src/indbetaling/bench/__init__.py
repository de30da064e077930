"""`indbetaling bench`: the system measured end to end, as clients see it, each figure beside
the limit of the same work measured in the same run (README, "Benchmarks").

`run` puts it together: `report` is the one table (and its JSON), `server` starts `indbetaling
run` processes, `load` is the load generator (a process of its own), and the sections are
`payments` (with `limits`: pgbench and its SQLite counterpart), `search`, `messages` and `bulk`.
This package is imported by the load generator too, so it imports nothing heavy itself.
"""
