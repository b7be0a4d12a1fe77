"""The AWS provider bindings this project uses, imported without the other 2,100 resource modules.

``import cdktf_cdktf_provider_aws`` runs a package ``__init__`` that imports every one of its
~2,135 resource modules, which is most of a small synth's wall time (measured: ~14 s through
the package, ~3.6 s through this module). Each resource module needs only the package's
``_jsii`` assembly, so registering a bare package module in ``sys.modules`` first lets
``cdktf_cdktf_provider_aws.instance`` & co. import alone, and ``cdk.tf.json`` comes out byte
for byte the same (``tests/test_aws_modules.py`` holds both claims to account).

Import the provider modules from here, never from ``cdktf_cdktf_provider_aws`` directly::

    from dhcp_failover.constructs.aws_modules import instance, security_group

A module not listed below is one more name in the import list. Should jsii ever have to hand
Python an object whose class lives in a module nobody imported, it raises "Unknown type"
(loudly, never a wrong synth): list that module here too.

If the real package was imported first (a test, a REPL), the bare module is not installed and
the names below are the real package's submodules. The reverse order has one catch: after this
module, a plain ``import cdktf_cdktf_provider_aws`` returns the bare package, on which only the
submodules imported so far are attributes; ``from cdktf_cdktf_provider_aws import NAME`` still
works for any other.
"""

from __future__ import annotations

import importlib.util
import sys

_PACKAGE = "cdktf_cdktf_provider_aws"


def _install_bare_package() -> None:
    """Put an un-executed package module in ``sys.modules`` so its ``__init__`` never runs."""
    if _PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None:
        raise ModuleNotFoundError(f"{_PACKAGE} is not installed (pipenv install)", name=_PACKAGE)
    # module_from_spec sets __path__ and __spec__ from the real package, so the import system
    # finds submodules in the installed folder; the skipped __init__ defines nothing they use
    # (each submodule carries its own check_type and imports ._jsii itself).
    sys.modules[_PACKAGE] = importlib.util.module_from_spec(spec)


_install_bare_package()

# `from package import name` imports the submodule when the package lacks the attribute.
from cdktf_cdktf_provider_aws import (  # noqa: E402  (must follow _install_bare_package)
    cloudwatch_dashboard,
    cloudwatch_log_group,
    cloudwatch_metric_alarm,
    data_aws_caller_identity,
    data_aws_iam_policy_document,
    default_security_group,
    ec2_instance_connect_endpoint,
    eip,
    eip_association,
    flow_log,
    iam_instance_profile,
    iam_role,
    iam_role_policy,
    instance,
    internet_gateway,
    kms_alias,
    kms_key,
    provider,
    route,
    route_table,
    route_table_association,
    security_group,
    sns_topic,
    sns_topic_subscription,
    ssm_parameter,
    subnet,
    vpc,
    vpc_security_group_egress_rule,
    vpc_security_group_ingress_rule,
)

__all__ = [
    "cloudwatch_dashboard",
    "cloudwatch_log_group",
    "cloudwatch_metric_alarm",
    "data_aws_caller_identity",
    "data_aws_iam_policy_document",
    "default_security_group",
    "ec2_instance_connect_endpoint",
    "eip",
    "eip_association",
    "flow_log",
    "iam_instance_profile",
    "iam_role",
    "iam_role_policy",
    "instance",
    "internet_gateway",
    "kms_alias",
    "kms_key",
    "provider",
    "route",
    "route_table",
    "route_table_association",
    "security_group",
    "sns_topic",
    "sns_topic_subscription",
    "ssm_parameter",
    "subnet",
    "vpc",
    "vpc_security_group_egress_rule",
    "vpc_security_group_ingress_rule",
]
