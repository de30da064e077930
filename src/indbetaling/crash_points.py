"""Named points where the process can be made to die for real, to prove that nothing is lost or
done twice when a process is killed mid-request (the crash tests start `indbetaling run` with
`INDBETALING_CRASH_AT=<point>`, kill it there with SIGKILL, and start it again without).

Unset, as it is everywhere but in those tests, a crash point does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_AT = "INDBETALING_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here, at once and without clean-up, when `INDBETALING_CRASH_AT` names this point."""
    if os.environ.get(CRASH_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
