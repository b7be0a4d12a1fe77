"""The plan review's config diff: per replaced member, what changes in its rendered files (what
``render`` writes for it, cloudinit.member_tree) between the base inventory and this one.

Both sides are rendered by this checkout's code, as the example pipelines' ``render`` step does,
so the diff shows what the inventory change does to the servers. Rendered files hold no secret
value by design (the bootstrap fetches them at boot); the diff still never shows one: a line that
holds a literal secret is replaced, and so is any value of the site's ``TF_VAR_`` secrets.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .cloudinit import member_tree
from .derived_names import member_folder
from .errors import UserError
from .messages import one_line
from .model import Inventory, Role, Site
from .render import FileTree
from .secret_names import site_secrets

MAX_LINES = 400
"""Diff lines shown per member: a pull-request comment holds 65,536 characters."""
CONTEXT = 2
SECRET_SHOWN_AS = "***"  # noqa: S105 - what a secret is shown as, not one
HIDDEN_LINE = "(a line that holds a secret: not shown)"
# A secret written as a literal value, not a shell variable the bootstrap fills in at boot:
# ISC key files (secret "..."), Kea's JSON ("secret": "...", "password": "..."), WireGuard.
_LITERAL_SECRET = re.compile(
    r"""(\bsecret\s+"(?!\$)[^"]|"(secret|password)"\s*:\s*"(?!\$)[^"]|\bPrivateKey\s*=\s*\S)""", re.I)
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words; every generated secret is longer


@dataclass(frozen=True)
class MemberConfigDiff:
    """One replaced member's rendered files, base against head."""

    member: str
    role: str
    folder: str
    """Where ``render --out`` writes the member's files."""
    files_changed: tuple[str, ...]
    """Paths on the member whose content or mode differs (added and removed files included)."""
    diff: str
    """Unified diff (``base/<folder><path>`` → ``head/<folder><path>``), secrets masked; empty
    when the rendered files are the same."""
    truncated: bool = False


def secret_values(site: Site, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The site's secrets as the environment holds them (``TF_VAR_<name>``), to keep out of a diff."""
    values = (environ.get(f"TF_VAR_{spec.variable_name}", "") for spec in site_secrets(site))
    return tuple(sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True))


def mask_secrets(line: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        line = line.replace(secret, SECRET_SHOWN_AS)
    if _LITERAL_SECRET.search(line):
        return line[:1] + HIDDEN_LINE if line[:1] in "+- " else HIDDEN_LINE
    return line


def _files(tree: FileTree) -> dict[str, tuple[str, int]]:
    return {file.path: (file.content, file.mode) for file in tree}


def member_config_diff(base: Inventory | None, site: Site, role: Role, environ: Mapping[str, str]) -> MemberConfigDiff:
    """``role``'s rendered files in ``site`` against those of the same role of the same-named
    site in ``base`` (a site the base does not have: every file is new)."""
    member = site.member(role)
    folder = member_folder(site, member)
    base_site = next((s for s in base.sites if s.name == site.name), None) if base is not None else None
    after = _files(member_tree(site, member))
    try:
        before = _files(member_tree(base_site, base_site.member(role))) if base_site is not None else {}
    except UserError as exc:  # the base renders with this checkout's code, which it may predate
        return MemberConfigDiff(member.name, role.value, folder, tuple(after),
                                f"(the base's files could not be rendered with this code: {one_line(str(exc))})")
    secrets = tuple(dict.fromkeys(secret_values(site, environ)
                                  + (secret_values(base_site, environ) if base_site else ())))
    lines: list[str] = []
    changed = []
    for path in [*after, *(p for p in before if p not in after)]:
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        changed.append(path)
        old_text, old_mode = old if old is not None else ("", None)
        new_text, new_mode = new if new is not None else ("", None)
        fromfile = f"base/{folder}{path}" if old is not None else "/dev/null"
        tofile = f"head/{folder}{path}" if new is not None else "/dev/null"
        if old_mode is not None and new_mode is not None and old_mode != new_mode:
            lines.append(f"mode of {path}: {old_mode:o} → {new_mode:o}")
        lines += [line.rstrip("\n") for line in difflib.unified_diff(
            old_text.splitlines(keepends=True), new_text.splitlines(keepends=True), fromfile, tofile, n=CONTEXT)]
    masked = [mask_secrets(line, secrets) for line in lines]
    truncated = len(masked) > MAX_LINES
    if truncated:
        masked = [*masked[:MAX_LINES], f"... {len(lines) - MAX_LINES} more line(s): run `render` and `diff` to see all"]
    return MemberConfigDiff(member.name, role.value, folder, tuple(changed), "\n".join(masked), truncated)
