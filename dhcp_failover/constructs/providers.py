"""The AWS provider of a stack: one per region, default tags, and an optional local AWS API."""

from __future__ import annotations

from collections.abc import Mapping

from constructs import Construct

from .aws_modules import provider
from .layout import LocalAwsApi

# Every service the stacks call; a local API must answer for all of them.
LOCAL_API_SERVICES = ("ec2", "iam", "kms", "logs", "ssm", "sts")

__all__ = ["LOCAL_API_SERVICES", "LocalAwsApi", "aws_provider"]


def aws_provider(
    scope: Construct,
    id: str,
    *,
    region: str,
    default_tags: Mapping[str, str],
    alias: str | None = None,
    local_api: LocalAwsApi | None = None,
) -> provider.AwsProvider:
    """An AwsProvider for ``region`` whose default tags every resource inherits."""
    local: dict[str, object] = {}
    if local_api is not None:
        url = local_api.url
        local = {
            # Not secrets: the fixed credentials moto and LocalStack accept.
            "access_key": "test",
            "secret_key": "test",
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": "true",
            "skip_region_validation": True,
            "endpoints": [provider.AwsProviderEndpoints(**{svc: url for svc in LOCAL_API_SERVICES})],
        }
    tags = [provider.AwsProviderDefaultTags(tags=dict(default_tags))] if default_tags else None
    return provider.AwsProvider(
        scope,
        id,
        region=region,
        alias=alias,
        default_tags=tags,
        **local,
    )
