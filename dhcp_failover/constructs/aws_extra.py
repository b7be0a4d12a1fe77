"""Provider modules the stacks use beyond ``aws_modules``' import list.

``aws_modules`` belongs to its own change; these two names belong in its list, and this file
goes away once they are there. Importing ``aws_modules`` first keeps the lean import: the bare
package is in place, so each name below loads one submodule, not the whole provider.
"""

from __future__ import annotations

from . import aws_modules  # noqa: F401  (must come first: installs the bare package)
from cdktf_cdktf_provider_aws import (  # noqa: E402
    data_aws_caller_identity,
    eip_association,
)

__all__ = ["data_aws_caller_identity", "eip_association"]
