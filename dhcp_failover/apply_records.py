"""What each stack was last applied from, kept beside its Terraform state, so that any runner
with access to the state can tell which stacks a change touches without planning them.

A record holds the digest of the stack's configuration when ``rollout`` last applied it (or
found its plan empty), and when ``rollout --drift`` last compared it with AWS. The digest
covers the synthesized ``cdk.tf.json`` and the values of its plain (not sensitive) input
variables as the environment sets them (``TF_VAR_<site>_omapi_key_version``: a secret rotation
changes no JSON but must be applied). Secret values never enter it.

Where: beside the state file of a ``local`` backend (``terraform.<stack>.tfstate.dhcp-failover.json``)
or beside the state object of an ``s3`` backend (``<key>.dhcp-failover.json``, same bucket,
read and written with the runner's AWS credentials). A stack with any other backend has no
record: ``--changed`` plans it and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .aws import AwsApi

RECORD_SUFFIX = ".dhcp-failover.json"
STACK_FILE = "cdk.tf.json"


@dataclass(frozen=True)
class ApplyRecord:
    config: str | None = None
    """Digest (``config_digest``) of what the state was last brought to; None: never recorded."""
    applied_at: str | None = None
    """When (UTC, ISO 8601) ``config`` was recorded."""
    drift_checked_at: str | None = None
    drift_found: bool | None = None

    def applied(self, config: str) -> ApplyRecord:
        # What a drift check found is gone with the apply (a plan puts drifted objects back).
        return replace(self, config=config, applied_at=now(), drift_found=None)

    def drift_checked(self, found: bool) -> ApplyRecord:
        return replace(self, drift_checked_at=now(), drift_found=found)


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def config_digest(folder: Path, environ: Mapping[str, str]) -> str:
    """The stack's configuration as terraform will see it, short of its secret values."""
    content = (folder / STACK_FILE).read_bytes()
    variables = json.loads(content).get("variable", {})
    plain = {name: environ.get(f"TF_VAR_{name}") for name, spec in sorted(variables.items())
             if not spec.get("sensitive") and not spec.get("ephemeral")}
    digest = hashlib.sha256(content)
    digest.update(json.dumps(plain, sort_keys=True).encode())
    return digest.hexdigest()


class RecordError(Exception):
    """A record that could not be read or written; ``str()`` says why, in one line."""


class _Place(Protocol):
    def read(self) -> ApplyRecord | None: ...

    def write(self, record: ApplyRecord) -> None: ...

    def describe(self) -> str: ...


def _parse(text: str, where: str) -> ApplyRecord:
    try:
        data = json.loads(text)
        fields = {name: data.get(name) for name in ApplyRecord.__dataclass_fields__}
        record = ApplyRecord(**fields)
    except (ValueError, TypeError, AttributeError):
        raise RecordError(f"{where}: not an apply record") from None
    if record.config is not None and not isinstance(record.config, str):
        raise RecordError(f"{where}: not an apply record")
    return record


def _dump(record: ApplyRecord) -> str:
    return json.dumps(asdict(record), indent=1, sort_keys=True) + "\n"


@dataclass(frozen=True)
class _LocalPlace:
    path: Path

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> ApplyRecord | None:
        try:
            return _parse(self.path.read_text(encoding="utf-8"), str(self.path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RecordError(f"{self.path}: {exc.strerror}") from None

    def write(self, record: ApplyRecord) -> None:
        try:
            handle, scratch = tempfile.mkstemp(prefix=".record-", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(_dump(record))
            os.replace(scratch, self.path)
        except OSError as exc:
            raise RecordError(f"{self.path}: {exc.strerror}") from None


@dataclass(frozen=True)
class _S3Place:
    bucket: str
    key: str
    region: str
    api: AwsApi

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def read(self) -> ApplyRecord | None:
        from botocore.exceptions import BotoCoreError, ClientError  # boto3 only when a stack keeps state in S3

        client = self.api.client("s3", self.region)
        try:
            body = client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        except (BotoCoreError, ClientError) as exc:  # access denied, no such bucket, no network
            raise RecordError(f"{self.describe()}: {_aws_reason(exc)}") from None
        return _parse(body.decode("utf-8", "replace"), self.describe())

    def write(self, record: ApplyRecord) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.api.client("s3", self.region)
        try:
            client.put_object(Bucket=self.bucket, Key=self.key, Body=_dump(record).encode(),
                              ContentType="application/json", ServerSideEncryption="AES256")
        except (BotoCoreError, ClientError) as exc:
            raise RecordError(f"{self.describe()}: {_aws_reason(exc)}") from None


def _aws_reason(exc: Exception) -> str:
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return f"{type(exc).__name__}: {exc}"


def place_of(folder: Path, api: AwsApi) -> _Place | None:
    """Where the record of the stack in ``folder`` lives, from its own ``terraform.backend``
    block; None for a backend that is neither local nor S3."""
    backend = json.loads((folder / STACK_FILE).read_text(encoding="utf-8")).get("terraform", {}).get("backend", {})
    if "local" in backend:
        path = backend["local"].get("path", "terraform.tfstate")
        return _LocalPlace((folder / path).resolve().with_name(Path(path).name + RECORD_SUFFIX))
    if "s3" in backend:
        s3 = backend["s3"]
        return _S3Place(s3["bucket"], s3["key"] + RECORD_SUFFIX, s3["region"], api)
    return None


class ApplyRecords:
    """Reads and writes the records of stack folders; a failure is a one-line ``RecordError``."""

    def __init__(self, api: AwsApi | None = None) -> None:
        self.api = api or AwsApi.from_env()

    def read(self, folder: Path) -> ApplyRecord | None:
        place = place_of(folder, self.api)
        return None if place is None else place.read()

    def write(self, folder: Path, record: ApplyRecord) -> None:
        place = place_of(folder, self.api)
        if place is not None:
            place.write(record)

    def where(self, folder: Path) -> str | None:
        place = place_of(folder, self.api)
        return None if place is None else place.describe()

