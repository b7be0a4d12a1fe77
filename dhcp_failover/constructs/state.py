"""Where each stack keeps its Terraform state: the backend is a prop of the pair, not hard-wired.

``DhcpFailoverPairProps.backend`` is a ``BackendFactory``: called once per stack with the stack
and its name, it adds that stack's backend construct. cdktf derives every cross-stack reference
(the member stacks' ``terraform_remote_state`` reads of the shared stack) from the referenced
stack's backend, so the reads follow whatever the factory made. A cdktf app of your own can pass
any backend (``S3Backend``, ``CloudBackend``, ...) this way; the inventory's ``state:`` section
maps to ``inventory_backend``.
"""

from __future__ import annotations

from collections.abc import Callable

from cdktf import LocalBackend, S3Backend, S3BackendEndpointConfig, TerraformBackend, TerraformStack

from ..model import BackendKind, StateBackend, StateLock
from .layout import LocalAwsApi
from .naming import state_path

BackendFactory = Callable[[TerraformStack, str], TerraformBackend]
"""``(stack, stack name) → the backend construct it added to the stack``."""

# Construct id of the backend: cdktf's own default, so the logical ids stay what they were.
BACKEND_ID = "backend"


def local_backend(stack: TerraformStack, name: str) -> TerraformBackend:
    """State next to cdktf.json as ``terraform.<stack>.tfstate`` (the default)."""
    return LocalBackend(stack, path=state_path(name))


def s3_backend(state: StateBackend, local_api: LocalAwsApi | None = None) -> BackendFactory:
    """One object per stack, ``<key_prefix>/<stack>.tfstate`` in ``state.bucket``, locked by
    S3's conditional writes (``use_lockfile``) or by a DynamoDB table."""
    if state.bucket is None or state.region is None:
        raise ValueError("an s3 state backend needs bucket and region")
    bucket, region = state.bucket, state.region

    def make(stack: TerraformStack, name: str) -> TerraformBackend:
        local: dict[str, object] = {}
        if local_api is not None:
            url = local_api.url
            local = {
                # Not secrets: the fixed credentials moto and LocalStack accept.
                "access_key": "test",
                "secret_key": "test",
                "endpoints": S3BackendEndpointConfig(s3=url, dynamodb=url, iam=url, sts=url),
                "use_path_style": True,
                "skip_credentials_validation": True,
                "skip_metadata_api_check": True,
                "skip_region_validation": True,
                "skip_requesting_account_id": True,
            }
        backend = S3Backend(
            stack,
            bucket=bucket,
            key=state.state_key(name),
            region=region,
            encrypt=state.encrypt,
            kms_key_id=state.kms_key_id,
            dynamodb_table=state.dynamodb_table if state.lock is StateLock.DYNAMODB else None,
            **local,  # type: ignore[arg-type]
        )
        if state.lock is StateLock.LOCKFILE:
            # cdktf 0.21 predates the argument (Terraform >= 1.10 reads it).
            backend.add_override("use_lockfile", True)
        return backend

    return make


def inventory_backend(state: StateBackend, local_api: LocalAwsApi | None = None) -> BackendFactory:
    """The backend an inventory's ``state:`` section asks for."""
    if state.backend is BackendKind.S3:
        return s3_backend(state, local_api)
    return local_backend
