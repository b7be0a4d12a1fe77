"""The AWS provider of a stack: one per region, default tags, and an optional local AWS API."""

from __future__ import annotations

from collections.abc import Mapping

from constructs import Construct

from .aws_modules import provider
from .layout import LocalAwsApi

__all__ = ["LocalAwsApi", "aws_provider"]


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
        # No ``endpoints`` block: with one (even naming one service) the provider spends about
        # 2.5 s validating its configuration, twice per plan, which more than doubled a plan of
        # an unchanged stack. terraform reads the address from $AWS_ENDPOINT_URL instead
        # (app.require_provider_endpoint checks it is there; the rollout sets it).
        local = {
            # Not secrets: the fixed credentials moto and LocalStack accept.
            "access_key": "test",
            "secret_key": "test",
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": "true",
            "skip_region_validation": True,
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
