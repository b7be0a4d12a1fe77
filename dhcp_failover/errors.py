"""The errors a user sees: ``str()`` of each is the one line printed after ``error:``.

Every command catches ``UserError`` and exits 2 with that line; anything else is a bug and
gets the catch-all (exit 70). The subclasses say where the fault lies, so a caller of the
Python API can tell a bad inventory from a bad setting.
"""

from __future__ import annotations

from collections.abc import Sequence


class UserError(Exception):
    """Input the user must fix; ``str()`` names the field or option and what to do."""


class InventoryError(UserError, ValueError):
    """The inventory (YAML or Python objects) is not a deployable description."""


class InventoryProblems(InventoryError):
    """Several problems of one inventory, each a line of its own, in the order the file has them.

    ``pending`` says which checks did not run because they need these fixed first, so the count
    is all there is to fix at this stage, never a promise about the next run. ``str()`` is one
    line for callers that show one: the first problem, as a single problem would read, then all
    the others; the CLI prints ``shown()`` and ``summary()``.
    """

    def __init__(self, problems: Sequence[str], *, pending: str = "", source: str = "the inventory") -> None:
        self.problems = tuple(problems)
        self.pending = pending
        self.source = source
        first, *rest = self.problems
        after = f"; {pending}" if pending else ""
        super().__init__(f"{first} (and {len(rest)} more problem(s): {'; '.join(rest)}{after})")

    def located(self, source: str) -> InventoryProblems:
        """The same problems, each prefixed with the file they are in."""
        return InventoryProblems([f"{source}: {p}" for p in self.problems], pending=self.pending, source=source)

    def shown(self) -> tuple[str, ...]:
        """The problems to print: all of them, up to a screenful (a generated file can repeat
        one mistake thousands of times)."""
        return self.problems[:MAX_SHOWN]

    def summary(self) -> str:
        """The line after the problems: how many, where, and what runs once they are fixed."""
        notes = [self.pending] if self.pending else []
        if len(self.problems) > MAX_SHOWN:
            notes.append(f"the first {MAX_SHOWN} are shown")
        after = f" ({'; '.join(notes)})" if notes else ""
        return f"{len(self.problems)} problems in {self.source}{after}"


MAX_SHOWN = 100


class SettingsError(UserError, ValueError):
    """A synth-time setting from the environment is bad."""


class UsageError(UserError):
    """A command-line option, or a file it names (key store, output folder), is bad."""


class AwsError(UserError):
    """AWS could not be asked or refused (no credentials, no route, access denied, missing data)."""


class ConfigImportError(UserError, ValueError):
    """A dhcpd.conf given to ``import`` cannot be read."""
