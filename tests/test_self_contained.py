"""A user's clone has nothing beside it: no test, script or build file reads a path outside the
checkout (the project's shared notes and seed stay with the project's makers)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.factories import REPO

# A path that climbs out of the checkout to the folder beside it.
_OUTSIDE = re.compile(r"\.\./shared|parents?(\[\d\])?\s*/\s*[\"']shared[\"']|shared/(seed|notes)")


def _checked_files() -> list[Path]:
    files = [*REPO.glob("tests/**/*.py"), *REPO.glob("benchmarks/**/*.py"), *REPO.glob("scripts/*"),
             REPO / "Makefile", REPO / ".ci" / "run", REPO / "main.py", *REPO.glob("dhcp_failover/**/*.py")]
    return [f for f in files if f.is_file() and f != Path(__file__).resolve()]


def test_nothing_reads_beside_the_checkout() -> None:
    files = _checked_files()
    assert len(files) > 100, "the walk found too few files to mean anything"
    offenders = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
                 for path in files
                 for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
                 if _OUTSIDE.search(line)]
    assert offenders == []


def test_the_check_sees_the_old_way_of_reading_the_guide() -> None:
    assert _OUTSIDE.search('GUIDE = REPO.parent / "shared" / "seed" / "isc-basic-guide.txt"')
    # Put together here so that this file's own text never names the folder it forbids.
    assert _OUTSIDE.search("cat " + ".." + "/shared/seed/guide.txt")
