"""What the operator commands read from AWS itself: the secrets in SSM (the one source of truth
every runner agrees on) and whether a member's instance exists yet. boto3 is imported only when
one of these is used, so validate and render stay fast and offline.

With ``$DHCP_FAILOVER_AWS_ENDPOINT`` set (moto, LocalStack) every call goes there with the same
fixed test credentials the synthesized providers use; otherwise boto3's usual credential chain
(environment, profile, instance role) and each service's real endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import AwsError
from .model import Member, Site
from .secret_names import VERSION_TAG, SecretSpec, site_secrets

ENDPOINT_ENV = "DHCP_FAILOVER_AWS_ENDPOINT"
# Where terraform's AWS provider reads a local API's address (the synthesized providers name none).
PROVIDER_ENDPOINT_ENV = "AWS_ENDPOINT_URL"
# Where the bootstrap looks for an unplaced member's parameters (cloudinit.render_bootstrap).
UNPLACED_REGION = "us-east-1"


@dataclass(frozen=True)
class SsmSecret:
    value: str
    version: int | None
    """The version variable it was written with (its tag); None on a parameter written otherwise."""
    previous: str | None = None
    """The value before the last rotation (from the parameter's history), if there was one."""


def local_endpoint(environ: Mapping[str, str]) -> str | None:
    """``$DHCP_FAILOVER_AWS_ENDPOINT`` without a trailing slash; None when unset or empty."""
    return environ.get(ENDPOINT_ENV, "").strip().rstrip("/") or None


def member_region(member: Member) -> str:
    return member.placement.region if member.placement else UNPLACED_REGION


def secret_region(site: Site, spec: SecretSpec) -> str:
    """A region that holds ``spec``: the first member's (primary first) that reads it."""
    return next(member_region(m) for m in (site.primary, site.secondary) if spec.readable_by(m))


class AwsApi:
    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = endpoint or None
        self._clients: dict[tuple[str, str], Any] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AwsApi:
        environ = os.environ if environ is None else environ
        return cls(local_endpoint(environ))

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3})
            extra: dict[str, Any] = {}
            if self.endpoint is not None:
                # Not secrets: the fixed credentials moto and LocalStack accept.
                extra = {"endpoint_url": self.endpoint, "aws_access_key_id": "test", "aws_secret_access_key": "test"}
            self._clients[key] = boto3.client(service, region_name=region, config=config, **extra)
        return self._clients[key]

    def _call(self, what: str, fn: Any, *, absent: str | None = None, **kwargs: Any) -> Any:
        """``fn(**kwargs)``; None when AWS answers with the error code ``absent``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if absent is not None and error.get("Code") == absent:
                return None
            raise AwsError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', exc)}") from None
        except BotoCoreError as exc:
            raise AwsError(f"{what}: {exc}") from None

    def secret(self, name: str, region: str) -> SsmSecret | None:
        """The SecureString ``name`` in ``region`` with its version, or None when it does not exist."""
        ssm = self.client("ssm", region)
        found = self._call(f"SSM {name} in {region}", ssm.get_parameter, absent="ParameterNotFound", Name=name,
                           WithDecryption=True)
        if found is None:
            return None
        parameter = found["Parameter"]
        tags = self._call(f"tags of SSM {name} in {region}", ssm.list_tags_for_resource,
                          ResourceType="Parameter", ResourceId=name)["TagList"]
        version = next((t["Value"] for t in tags if t["Key"] == VERSION_TAG), "")
        history = self._call(f"history of SSM {name} in {region}", ssm.get_parameter_history, Name=name,
                             WithDecryption=True)["Parameters"]
        older = [h["Value"] for h in sorted(history, key=lambda h: h["Version"]) if h["Value"] != parameter["Value"]]
        return SsmSecret(parameter["Value"], int(version) if version.isdigit() else None, older[-1] if older else None)

    def site_secrets(self, site: Site) -> dict[SecretSpec, SsmSecret]:
        """Every secret of the site that SSM already holds."""
        found = {}
        for spec in site_secrets(site):
            secret = self.secret(spec.parameter_name, secret_region(site, spec))
            if secret is not None:
                found[spec] = secret
        return found

    def instance_exists(self, member: Member) -> bool:
        """Whether an instance (pending or running) holds the member's fixed address in its region
        (and VPC, when the inventory names one): "not created yet" versus "not answering yet"."""
        return bool(self._instance_ids(member, {}))

    def instance_id(self, member: Member, tags: Mapping[str, str]) -> str | None:
        """The id of the pending or running instance at the member's fixed address in its region
        (and VPC, when the inventory names one) that carries ``tags``; None when there is none."""
        ids = self._instance_ids(member, tags)
        if len(ids) > 1:
            raise AwsError(f"member {member.name}: {len(ids)} instances at {member.address} in "
                           f"{member_region(member)} carry the tags {dict(tags)} ({', '.join(ids)}); "
                           "terminate the stray one")
        return ids[0] if ids else None

    def _instance_ids(self, member: Member, tags: Mapping[str, str]) -> list[str]:
        filters = [
            {"Name": "private-ip-address", "Values": [str(member.address)]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
        if member.placement is not None and member.placement.vpc_id is not None:
            filters.append({"Name": "vpc-id", "Values": [member.placement.vpc_id]})
        filters += [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        region = member_region(member)
        ec2 = self.client("ec2", region)
        found = self._call(f"EC2 instances in {region}", ec2.describe_instances, Filters=filters)
        return sorted(i["InstanceId"] for reservation in found["Reservations"] for i in reservation["Instances"])
