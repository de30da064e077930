"""The progress of a demo load on the terminal: a bar of claims written, shown only when asked."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ClaimProgress:
    """A context manager: the bar is drawn (in a thread of rich's) while it is entered."""

    def __init__(self, total: int, *, show: bool, console: Console | None = None) -> None:
        self.total = total
        self.bar = Progress(
            TextColumn("[bold]Demodata"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("fordringer"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not show,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> ClaimProgress:
        self.bar.__enter__()
        self.task = self.bar.add_task("demo", total=self.total)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.bar.__exit__(kind, exc, tb)

    def reached(self, done: int) -> None:
        """`done` claims are written."""
        if self.task is not None:
            self.bar.update(self.task, completed=done)
