"""The errors a user sees: ``str()`` of each is the one line printed after ``error:``.

Every command catches ``UserError`` and exits 2 with that line; anything else is a bug and
gets the catch-all (exit 70). The subclasses say where the fault lies, so a caller of the
Python API can tell a bad inventory from a bad setting.
"""

from __future__ import annotations


class UserError(Exception):
    """Input the user must fix; ``str()`` names the field or option and what to do."""


class InventoryError(UserError, ValueError):
    """The inventory (YAML or Python objects) is not a deployable description."""


class SettingsError(UserError, ValueError):
    """A synth-time setting from the environment is bad."""


class UsageError(UserError):
    """A command-line option, or a file it names (key store, output folder), is bad."""


class AwsError(UserError):
    """AWS could not be asked or refused (no credentials, no route, access denied, missing data)."""


class ConfigImportError(UserError, ValueError):
    """A dhcpd.conf given to ``import`` cannot be read."""
