"""End to end against a local AWS API: the deploy lines of docs/deploying.md, checked through the AWS API.

One deploy per module (moto server in its own process on 127.0.0.1), run as the docs say, in a
copy of the checkout: $DHCP_FAILOVER_AWS_ENDPOINT set, `eval "$(python -m dhcp_failover keys
...)"`, then the docs' `npx cdktf deploy` lines as written (shared, secondary, primary), with
the offline CLI config. The site is examples/two-regions.yaml renamed to the docs' `hq`: two
regions, two providers, per-region keys and secrets, Elastic IP tunnel endpoints, member-made WireGuard keys.
The checks read AWS through boto3, never Terraform state (which holds only a hash of user-data
and no secret at all). Then: a second plan changes nothing; the bootstrap from the *deployed*
user-data boots each member; a change to both members' configs plans one instance per stack;
the guarded Elastic IPs refuse a plain destroy, and the docs' destroy lines, in reverse
order with dummy secret variables, leave nothing behind.

Tests run in file order and share the deploy; the last one destroys it.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from dhcp_failover.app import ENDPOINT_ENV
from dhcp_failover.aws import PROVIDER_ENDPOINT_ENV
from dhcp_failover.backends.isc.render import DHCPD_CONF, OMAPI_KEY_FILE, render_omapi_key
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, peer_endpoint_parameter, render_user_data
from dhcp_failover.constructs.layout import region_of
from dhcp_failover.constructs.naming import member_stack_name, shared_stack_name
from dhcp_failover.constructs.rules import Direction, member_rules
from dhcp_failover.inventory import load_inventory
from dhcp_failover.local_keys import KeyStore, default_path
from dhcp_failover.model import Member, Role, Site
from dhcp_failover.render import wireguard_paths
from dhcp_failover.secret_names import (
    PUBLIC_KEY_PLACEHOLDER,
    SecretKind,
    member_secrets,
    site_secrets,
    wireguard_public_key_parameter,
)
from tests.lab.boot import CREDENTIALS, write_files
from tests.support.checkout import INVENTORY_ENV, cdktf_project
from tests.support.deploy import (
    MOTO_CREDENTIALS,
    Project,
    ShellLine,
    Stacks,
    key_exports,
    readme_cdktf_lines,
    resource_changes,
    synth,
)
from tests.support.factories import REPO
from tests.support.tfenv import require_provider_mirror, write_cli_config
from tests.support.tools import require

# An AMI moto knows in every region (its bundled amis.json); the example's are made up.
MOTO_AMI = "ami-1e749f67"
SYSTEM_AWS = Path("/usr/bin/aws")  # Debian 12's awscli, what the member runs
INVENTORY_NAME = "sites.yaml"  # the docs'
SITE = "hq"  # the docs'
DEPLOY_DOCS = REPO / "docs" / "deploying.md"  # the page whose deploy and destroy lines users run
MEMBERS = [Role.PRIMARY, Role.SECONDARY]


@dataclass
class Deployment:
    site: Site
    endpoint: str
    root: Path
    project: Project
    inventory: Path
    key_store: Path
    stacks: Stacks
    timings: dict[str, float] = field(default_factory=dict)

    def member(self, role: Role) -> Member:
        return self.site.primary if role is Role.PRIMARY else self.site.secondary

    def client(self, service: str, region: str = "eu-west-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def ec2(self, member: Member) -> Any:
        return self.client("ec2", region_of(member))

    def instance(self, member: Member) -> dict[str, Any]:
        """The member's running instance, found by its Name tag in its region."""
        found = [
            instance
            for reservation in self.ec2(member).describe_instances(
                Filters=[{"Name": "tag:Name", "Values": [f"{self.site.name}-{member.role.value}"]},
                         {"Name": "instance-state-name", "Values": ["pending", "running"]}]
            )["Reservations"]
            for instance in reservation["Instances"]
        ]
        assert len(found) == 1, f"{member.name}: {len(found)} instances"
        return found[0]

    def group(self, member: Member) -> dict[str, Any]:
        name = f"dhcp-failover-{self.site.name}-{member.role.value}"
        (group,) = self.ec2(member).describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        return group

    def deployed_user_data(self, member: Member) -> bytes:
        attribute = self.ec2(member).describe_instance_attribute(
            InstanceId=self.instance(member)["InstanceId"], Attribute="userData")
        raw = base64.b64decode(attribute["UserData"]["Value"])
        # A monitored member carries the reporter: its user-data is gzipped (cloud-init unpacks it).
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw

    def published_endpoint(self, member: Member) -> str:
        """ADDRESS:PORT of the member's tunnel end, as its partner's bootstrap reads it."""
        parameter = self.client("ssm", region_of(member)).get_parameter(Name=peer_endpoint_parameter(self.site, member))
        return str(parameter["Parameter"]["Value"])


def _test_inventory(path: Path) -> Path:
    """examples/two-regions.yaml as the docs' site `hq`, with an AMI moto knows."""
    data = yaml.safe_load((REPO / "examples" / "two-regions.yaml").read_text())
    (site,) = data["sites"]
    site["name"] = SITE
    for member in site["members"]:
        member["placement"]["ami"] = MOTO_AMI
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _timed(timings: dict[str, float], name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    start = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        timings[name] = round(time.monotonic() - start, 1)


def _documented_lines(verb: str, order: tuple[str, ...]) -> list[ShellLine]:
    """The deploy docs' lines for ``verb``, which must name the site's stacks in ``order``."""
    lines = readme_cdktf_lines(DEPLOY_DOCS, verb)
    named = [stack for line in lines for stack in line.stacks]
    assert named == list(order), f"docs/deploying.md's {verb} lines: {[line.argv for line in lines]}"
    assert all(line.assignments.get(INVENTORY_ENV) == INVENTORY_NAME for line in lines)
    return lines


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[Deployment]:
    require_provider_mirror()
    require("terraform")
    require("npx", "the deploy docs deploy with npx cdktf")
    root = tmp_path_factory.mktemp("e2e")
    folder = cdktf_project(root / "project")
    timings: dict[str, float] = {}
    endpoint = moto_endpoint  # the session's (conftest): other suites' sites live there too
    inventory = _test_inventory(folder / INVENTORY_NAME)
    (site,) = load_inventory(inventory).sites
    order = (shared_stack_name(SITE), member_stack_name(SITE, Role.SECONDARY), member_stack_name(SITE, Role.PRIMARY))
    base = {k: v for k, v in write_cli_config(root).items() if not k.startswith("TF_VAR_")}
    base.update({ENDPOINT_ENV: endpoint, PROVIDER_ENDPOINT_ENV: endpoint, "CI": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    for name in ("CDKTF_OUTDIR", INVENTORY_ENV):
        base.pop(name, None)
    env = {**base, **key_exports(folder, INVENTORY_NAME, {**base, INVENTORY_ENV: INVENTORY_NAME})}
    project = Project(folder, env)
    for line in _documented_lines("deploy", order):
        _timed(timings, f"deploy {line.stack}", project.run, line)
    stacks = Stacks(folder / "cdktf.out", order, {**env, INVENTORY_ENV: INVENTORY_NAME})
    yield Deployment(site, endpoint, root, project, inventory, default_path(inventory), stacks, timings)
    # Destroy is the last test; the session's moto server outlives this module.
    print(f"\ne2e timings (s): {timings}")


@pytest.mark.parametrize("role", MEMBERS, ids=lambda r: r.value)
def test_instance_runs_in_its_region_with_its_profile_address_group_and_elastic_ip(
    deployed: Deployment, role: Role,
) -> None:
    member = deployed.member(role)
    instance = deployed.instance(member)
    group = deployed.group(member)
    iam = deployed.client("iam")

    assert instance["State"]["Name"] == "running"
    assert instance["Placement"]["AvailabilityZone"] == member.placement.availability_zone  # type: ignore[union-attr]
    assert instance["PrivateIpAddress"] == str(member.address)
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    profile_name = f"dhcp-failover-{deployed.site.name}-{role.value}"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{profile_name}")
    (profile_role,) = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Roles"]
    assert profile_role["RoleName"] == profile_name
    # The group is on the instance's one interface (where AWS keeps it) and nothing else is.
    (eni,) = instance["NetworkInterfaces"]
    assert [g["GroupId"] for g in eni["Groups"]] == [group["GroupId"]]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group["GroupId"]]
    assert eni["PrivateIpAddress"] == str(member.address)
    # Its Elastic IP is on it, and is the tunnel endpoint published for the partner.
    (address,) = deployed.ec2(member).describe_addresses(
        Filters=[{"Name": "instance-id", "Values": [instance["InstanceId"]]}])["Addresses"]
    assert deployed.published_endpoint(member) == f"{address['PublicIp']}:{deployed.site.wireguard.listen_port}"  # type: ignore[union-attr]


@pytest.mark.parametrize("role", MEMBERS, ids=lambda r: r.value)
def test_deployed_user_data_is_the_synthesized_cloud_config_byte_for_byte(deployed: Deployment, role: Role) -> None:
    member = deployed.member(role)
    stack = json.loads((deployed.stacks.folder(member_stack_name(SITE, role)) / "cdk.tf.json").read_text())
    (resource,) = stack["resource"]["aws_instance"].values()
    if "user_data_base64" in resource:  # gzipped: no Terraform template escapes inside
        synthesized = gzip.decompress(base64.b64decode(resource["user_data_base64"])).decode()
    else:  # cdk.tf.json holds it Terraform-escaped (`$${`), which Terraform turns back into the text.
        synthesized = resource["user_data"].replace("$${", "${").replace("%%{", "%{")
    assert synthesized == render_user_data(deployed.site, member).cloud_config
    assert deployed.deployed_user_data(member) == synthesized.encode()


def _rule_row(rule: dict[str, Any]) -> tuple[Any, ...]:
    return (rule["IsEgress"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule.get("CidrIpv4"),
            rule.get("Description"))


@pytest.mark.parametrize("role", MEMBERS, ids=lambda r: r.value)
def test_security_group_rules_are_exactly_the_named_table(deployed: Deployment, role: Role) -> None:
    site = deployed.site
    member = deployed.member(role)
    group = deployed.group(member)
    rules = deployed.ec2(member).describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])["SecurityGroupRules"]
    # The table with the addresses AWS gave the Elastic IPs: the tunnel admits the partner's only.
    tunnel_ends = {m.role: deployed.published_endpoint(m).split(":")[0] for m in site.members}
    expected_rules = member_rules(site, member, tunnel_endpoints=tunnel_ends)
    expected = sorted(
        (rule.direction is Direction.EGRESS, rule.protocol, rule.from_port, rule.to_port, rule.cidr, rule.description)
        for rule in expected_rules
    )
    assert sorted(_rule_row(r) for r in rules) == expected  # the provider's default allow-all egress is gone too
    assert not any(r["IpProtocol"] == "tcp" and r["FromPort"] in (519, 520) for r in rules)  # failover: tunnel only
    # Each rule carries its table key in its Name tag.
    names = sorted(tag["Value"] for r in rules for tag in r.get("Tags", []) if tag["Key"] == "Name")
    assert names == sorted(f"{site.name}-{role.value}-{rule.key}" for rule in expected_rules)


def test_each_region_holds_only_its_members_secrets_with_the_key_store_values(deployed: Deployment) -> None:
    site = deployed.site
    store = KeyStore.load(deployed.key_store)
    for member in site.members:
        region = region_of(member)
        ssm, kms = deployed.client("ssm", region), deployed.client("kms", region)
        (alias,) = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/dhcp-failover/{site.name}"]
        own = member_secrets(site, member)
        for spec in own:
            parameter = ssm.get_parameter(Name=spec.parameter_name, WithDecryption=True)["Parameter"]
            assert parameter["Type"] == "SecureString"
            assert parameter["Value"] == store.require(spec).value
            (described,) = ssm.describe_parameters(
                ParameterFilters=[{"Key": "Name", "Values": [spec.parameter_name]}])["Parameters"]
            key_arn = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"]
            assert described["KeyId"] in (key_arn, alias["TargetKeyId"], alias["AliasName"])
        secure = [p["Name"] for p in ssm.get_parameters_by_path(Path=f"/dhcp-failover/{site.name}", Recursive=True)[
            "Parameters"] if p["Type"] == "SecureString"]
        # The partner's private key is not in this region at all.
        assert sorted(secure) == sorted(spec.parameter_name for spec in own), region


def test_each_instance_policy_names_exactly_its_parameters_and_its_regions_key(deployed: Deployment) -> None:
    site, iam = deployed.site, deployed.client("iam")
    for member in site.members:
        region, partner = region_of(member), site.partner_of(member)
        ssm = deployed.client("ssm", region)
        arns = [ssm.get_parameter(Name=spec.parameter_name)["Parameter"]["ARN"] for spec in member_secrets(site, member)]
        partner_ssm = deployed.client("ssm", region_of(partner))
        own_key = ssm.get_parameter(Name=wireguard_public_key_parameter(site, member))["Parameter"]["ARN"]
        plain = [partner_ssm.get_parameter(Name=name)["Parameter"]["ARN"] for name in (
            peer_endpoint_parameter(site, partner), wireguard_public_key_parameter(site, partner))] + [own_key]
        kms = deployed.client("kms", region)
        (alias,) = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/dhcp-failover/{site.name}"]
        key_arn = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"]

        role_name = f"dhcp-failover-{site.name}-{member.role.value}"
        assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["read-own-parameters"]
        assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
        document = iam.get_role_policy(RoleName=role_name, PolicyName="read-own-parameters")["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statements = {s["Sid"]: s for s in document["Statement"]}
        monitored = {"WriteOwnLogStreams", "PutMetricsInOwnNamespace"} if site.monitoring else set()
        assert set(statements) == {"ReadOwnParameters", "DecryptOwnParameters", "PublishOwnWireGuardPublicKey", *monitored}
        assert sorted(statements["ReadOwnParameters"]["Resource"]) == sorted(arns + plain)
        assert statements["PublishOwnWireGuardPublicKey"]["Action"] == "ssm:PutParameter"
        assert statements["PublishOwnWireGuardPublicKey"]["Resource"] == own_key
        decrypt = statements["DecryptOwnParameters"]
        assert decrypt["Resource"] == key_arn
        assert sorted(decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"]) == sorted(arns)


def test_no_secret_value_is_in_state_or_in_cdktf_out(deployed: Deployment) -> None:
    """The secrets went to SSM (checked above) through write-only values only; the public keys
    travel the same way, so they are absent too."""
    store = KeyStore.load(deployed.key_store)
    secrets = [store.require(spec).value for spec in site_secrets(deployed.site)]
    states = sorted(deployed.project.folder.glob("terraform.*.tfstate"))
    assert len(states) == 3
    files = states + [f for f in deployed.stacks.outdir.rglob("*") if f.is_file() and ".terraform" not in f.parts]
    for file in files:
        text = file.read_text(errors="replace")
        assert not any(secret in text for secret in secrets), file


def test_a_second_plan_changes_nothing_in_any_stack(deployed: Deployment) -> None:
    start = time.monotonic()
    outcomes = deployed.stacks.each(deployed.stacks.plan_exit_code)
    deployed.timings["second plan"] = round(time.monotonic() - start, 1)
    changed = {stack: out for stack, (code, out) in outcomes.items() if code != 0}
    assert not changed, "\n".join(f"--- {stack}\n{out[-3000:]}" for stack, out in changed.items())


@pytest.mark.parametrize("role", MEMBERS, ids=lambda r: r.value)
def test_deployed_user_data_boots_fetches_secrets_0600_and_dhcpd_t_passes(
    deployed: Deployment, role: Role, tmp_path: Path,
) -> None:
    require("aws", "the bootstrap fetches secrets with the AWS CLI")
    dhcpd = require("dhcpd")
    site = deployed.site
    member, partner = deployed.member(role), site.partner_of(deployed.member(role))
    cloud_config = deployed.deployed_user_data(member).decode()  # read back from EC2, not re-rendered
    root = tmp_path / "root"
    files = write_files(cloud_config, root)
    # The bootstrap waits for the partner's published key: stand in for a partner that booted.
    partner_ssm = deployed.client("ssm", region_of(partner))
    partner_parameter = wireguard_public_key_parameter(site, partner)
    if partner_ssm.get_parameter(Name=partner_parameter)["Parameter"]["Value"] == PUBLIC_KEY_PLACEHOLDER:
        partner_private = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout
        partner_public = subprocess.run(["wg", "pubkey"], input=partner_private, capture_output=True, text=True,
                                        check=True).stdout.strip()
        partner_ssm.put_parameter(Name=partner_parameter, Value=partner_public, Type="String", Overwrite=True)
    path = os.environ["PATH"]
    if os.access(SYSTEM_AWS, os.X_OK):
        path = f"{SYSTEM_AWS.parent}{os.pathsep}{path}"
    result = subprocess.run(
        [str(files[BOOTSTRAP_PATH]), "--root", str(root), "--endpoint", deployed.endpoint, "--no-start"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, **CREDENTIALS, **MOTO_CREDENTIALS, "AWS_DEFAULT_REGION": region_of(member), "PATH": path},
    )
    assert result.returncode == 0, result.stderr
    assert "not starting (--no-start)" in result.stdout

    store = KeyStore.load(deployed.key_store)
    secret = {spec.kind: store.require(spec).value for spec in member_secrets(site, member)}
    wg = wireguard_paths(member, str(root))
    own_private = Path(wg.private_key).read_text()
    own_public = subprocess.run(["wg", "pubkey"], input=own_private, capture_output=True, text=True,
                                check=True).stdout.strip()
    own_parameter = wireguard_public_key_parameter(site, member)
    assert deployed.client("ssm", region_of(member)).get_parameter(Name=own_parameter)["Parameter"]["Value"] == own_public
    expected = {
        root / OMAPI_KEY_FILE.lstrip("/"): render_omapi_key(site, secret[SecretKind.OMAPI_KEY]),
        Path(wg.private_key): own_private,  # made here, by wg genkey
        Path(wg.peer_public_key): partner_ssm.get_parameter(Name=partner_parameter)["Parameter"]["Value"] + "\n",
        # From the partner's region: its Elastic IP and port.
        Path(wg.peer_endpoint): deployed.published_endpoint(partner) + "\n",
    }
    for file, content in expected.items():
        assert file.read_text() == content, file
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    # The tree left behind passes dhcpd -t on its own (the include pointed into the scratch root).
    conf = root / DHCPD_CONF.lstrip("/")
    checked = tmp_path / "dhcpd.checked.conf"
    checked.write_text(conf.read_text().replace('include "/', f'include "{root}/'))
    check = subprocess.run([dhcpd, "-t", "-4", "-cf", str(checked)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_a_change_to_both_members_configs_plans_one_instance_per_stack(deployed: Deployment) -> None:
    """Issue 4 from a real plan: a subnet's DNS servers are in both dhcpd.conf, so both
    instances are replaced, but each by its own stack; the shared stack plans nothing."""
    start = time.monotonic()
    site = deployed.site
    data = yaml.safe_load(deployed.inventory.read_text())
    data["sites"][0]["subnets"][0]["dns_servers"] = ["10.70.0.3"]
    changed_dir = deployed.root / "changed"
    inventory = changed_dir / "sites.yaml"
    changed_dir.mkdir()
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    outdir = synth(inventory, changed_dir, deployed.stacks.env)
    for stack in deployed.stacks.order:  # the same state: the new synth plans against the deploy
        (changed_dir / f"terraform.{stack}.tfstate").symlink_to(deployed.inventory.parent / f"terraform.{stack}.tfstate")
    changed = Stacks(outdir, deployed.stacks.order, deployed.stacks.env)
    changed.init()
    plans = changed.each(changed.plan_json)
    deployed.timings["change plans"] = round(time.monotonic() - start, 1)

    shared = shared_stack_name(site.name)
    assert resource_changes(plans[shared], "aws_instance") == {}
    assert [c["address"] for c in plans[shared]["resource_changes"] if c["change"]["actions"] != ["no-op"]] == []
    for member in (site.secondary, site.primary):
        stack = member_stack_name(site.name, member.role)
        changes = [c for c in plans[stack]["resource_changes"] if c["type"] == "aws_instance"]
        (instance,) = changes
        assert set(instance["change"]["actions"]) == {"delete", "create"}, instance["change"]["actions"]
        # The instance it replaces is this member's own (its fixed address), not the partner's.
        assert instance["change"]["before"]["private_ip"] == str(member.address)
        assert instance["change"]["before"]["id"] == deployed.instance(member)["InstanceId"]
    manifest = json.loads((outdir / "manifest.json").read_text())
    primary, secondary = (member_stack_name(site.name, r) for r in (Role.PRIMARY, Role.SECONDARY))
    assert secondary in manifest["stacks"][primary]["dependencies"]


def test_the_tunnel_elastic_ips_refuse_a_plain_destroy(deployed: Deployment) -> None:
    shared = shared_stack_name(SITE)
    result = deployed.stacks.plan(shared, "-destroy")
    assert result.returncode == 1
    assert "Instance cannot be destroyed" in result.stderr and "aws_eip." in result.stderr


def test_the_documented_destroy_lines_with_dummy_secrets_remove_everything(deployed: Deployment) -> None:
    site = deployed.site
    # docs/deploying.md: destroy needs the secret variables set, to any value (write-only values are sent
    # only on create and update); versions stay, so nothing else differs from the deploy.
    dummies = {name: "unused" for name in deployed.project.env
               if name.startswith("TF_VAR_") and not name.endswith("_version")}
    start = time.monotonic()
    for line in _documented_lines("destroy", tuple(reversed(deployed.stacks.order))):
        deployed.project.run(line, dummies)
    deployed.timings["destroy"] = round(time.monotonic() - start, 1)

    # The moto server is the session's: other suites' sites live there too, so "nothing left"
    # means nothing of this site (its names all start with it; Name tags with "<site>-").
    prefix = f"dhcp-failover-{site.name}-"

    def mine(tags: list[dict[str, str]] | None) -> bool:
        return any(t["Key"] == "Name" and t["Value"].startswith(f"{site.name}-") for t in tags or [])

    iam = deployed.client("iam")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(prefix)] == []
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
            if p["InstanceProfileName"].startswith(prefix)] == []
    for region in sorted({region_of(m) for m in site.members}):
        ec2, ssm = deployed.client("ec2", region), deployed.client("ssm", region)
        kms, logs = deployed.client("kms", region), deployed.client("logs", region)
        live = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                if i["State"]["Name"] != "terminated" and mine(i.get("Tags"))]
        assert live == [], region
        assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]
                if g["GroupName"] != "default" and (g["GroupName"].startswith(prefix) or mine(g.get("Tags")))] == [], region
        assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"] and mine(v.get("Tags"))] == [], region
        assert [a for a in ec2.describe_addresses()["Addresses"] if mine(a.get("Tags"))] == [], region
        assert [f for f in ec2.describe_flow_logs()["FlowLogs"] if mine(f.get("Tags"))] == [], region
        assert ssm.get_parameters_by_path(Path=f"/dhcp-failover/{site.name}", Recursive=True)["Parameters"] == [], region
        aliases = kms.list_aliases()["Aliases"]
        assert [a for a in aliases if a["AliasName"].startswith(f"alias/dhcp-failover/{site.name}")] == [], region
        # The site key is scheduled for deletion (KMS never deletes at once).
        keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]
                if mine([{"Key": t["TagKey"], "Value": t["TagValue"]}
                         for t in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]])]
        assert keys and {k["KeyState"] for k in keys} == {"PendingDeletion"}, region
        assert logs.describe_log_groups(logGroupNamePrefix=f"/dhcp-failover/{site.name}/")["logGroups"] == [], region
    for stack in deployed.stacks.order:
        assert deployed.stacks.state_resources(stack) == [], stack
