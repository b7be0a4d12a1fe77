"""The lean provider import (``dhcp_failover.constructs.aws_modules``) changes no synth byte.

The lean and the regular import cannot share a process (whichever comes first decides what
``cdktf_cdktf_provider_aws`` is), and this pytest process may already hold either: each path
synthesizes in a fresh interpreter running this file as a script.

    python tests/test_aws_modules.py lean|full OUTDIR
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK = "lean-check"
PACKAGE = "cdktf_cdktf_provider_aws"
# Counting each module's `._private` twin: the lean path loads ~50 provider modules, the
# regular one ~4,270.
LEAN_MODULE_LIMIT = 100


def _synth(aws: ModuleType, outdir: str) -> None:
    """A small stack of the shapes the project uses: provider, SG, ingress rule, instance."""
    import cdktf

    app = cdktf.App(outdir=outdir)
    stack = cdktf.TerraformStack(app, STACK)
    # The default local backend bakes the absolute state path into cdk.tf.json.
    cdktf.LocalBackend(stack, path="terraform.tfstate")
    aws.provider.AwsProvider(stack, "aws", region="eu-central-1")
    group = aws.security_group.SecurityGroup(
        stack, "dhcp", name="dhcp", description="DHCP failover pair", vpc_id="vpc-0123abcd"
    )
    aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule(
        stack,
        "failover_peer",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=647,
        to_port=647,
        cidr_ipv4="10.0.1.11/32",
    )
    aws.instance.Instance(
        stack,
        "primary",
        ami="ami-0123456789abcdef0",
        instance_type="t3.micro",
        private_ip="10.0.1.10",
        vpc_security_group_ids=[group.id],
        metadata_options=aws.instance.InstanceMetadataOptions(http_tokens="required"),
        root_block_device=aws.instance.InstanceRootBlockDevice(encrypted=True, volume_size=8),
    )
    app.synth()


def _import_path(mode: str) -> ModuleType:
    if mode == "lean":
        from dhcp_failover.constructs import aws_modules

        return aws_modules
    import cdktf_cdktf_provider_aws as full

    # aws_modules must also be safe to import after the whole package: same module objects.
    from dhcp_failover.constructs import aws_modules

    assert aws_modules.instance is full.instance
    return full


def _main(mode: str, outdir: str) -> None:
    _synth(_import_path(mode), outdir)
    loaded = [name for name in sys.modules if name.startswith(f"{PACKAGE}.")]
    print(json.dumps({"provider_modules": len(loaded)}))


def _run(mode: str, outdir: Path) -> tuple[bytes, int]:
    """cdk.tf.json bytes and the number of provider modules loaded, from a fresh interpreter."""
    # The script imports dhcp_failover, which is not installed into the venv.
    python_path = [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, python_path)),
        "CHECKPOINT_DISABLE": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, __file__, mode, str(outdir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{mode} synth failed:\n{result.stdout}\n{result.stderr}"
    stack_json = outdir / "stacks" / STACK / "cdk.tf.json"
    return stack_json.read_bytes(), json.loads(result.stdout.splitlines()[-1])["provider_modules"]


def test_lean_import_synthesizes_byte_identical_to_the_regular_import(tmp_path: Path) -> None:
    lean_json, lean_modules = _run("lean", tmp_path / "lean")
    full_json, full_modules = _run("full", tmp_path / "full")
    assert lean_json == full_json
    # Without this the comparison could pass with the lever silently off.
    assert lean_modules < LEAN_MODULE_LIMIT < full_modules
    assert b'"aws_vpc_security_group_ingress_rule"' in lean_json


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
