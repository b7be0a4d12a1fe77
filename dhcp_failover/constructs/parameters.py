"""The site's secrets in SSM Parameter Store, fed without ever entering cdktf.out or state.

Each secret of ``secrets.site_secrets(site)`` becomes one SecureString parameter whose value is
written through ``value_wo`` (write-only: never stored in state or plan) from an *ephemeral*
sensitive Terraform variable; the pipeline exports ``TF_VAR_<variable_name>``. Its companion
number variable ``<variable_name>_version`` (default 1) is ``value_wo_version``: bump it to
write a new value. Synth needs neither key material nor AWS credentials.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cdktf import TerraformProvider, TerraformVariable
from constructs import Construct

from ..secret_names import VERSION_TAG, SecretSpec
from .aws_modules import ssm_parameter
from .naming import SiteNames


@dataclass(frozen=True)
class SecretInputs:
    """The two Terraform variables that carry one secret into SSM."""

    value: TerraformVariable
    version: TerraformVariable


def secret_variables(stack: Construct, specs: Iterable[SecretSpec]) -> dict[SecretSpec, SecretInputs]:
    """Declare each secret's variables at the top of ``stack``, named exactly as the table says
    (a nested construct would otherwise append a hash to the variable name)."""
    inputs: dict[SecretSpec, SecretInputs] = {}
    for spec in specs:
        value = TerraformVariable(
            stack,
            spec.variable_name,
            type="string",
            sensitive=True,
            nullable=False,
            description=f"{spec.kind.value} of site {spec.site} (export TF_VAR_{spec.variable_name}); "
            "ephemeral: never stored in state or plan",
        )
        value.override_logical_id(spec.variable_name)
        # cdktf 0.21 has no ephemeral argument; terraform >= 1.10 reads the raw attribute.
        value.add_override("ephemeral", True)
        version = TerraformVariable(
            stack,
            spec.version_variable_name,
            type="number",
            default=1,
            nullable=False,
            description=f"Bump to write a new {spec.kind.value} of site {spec.site} into SSM",
        )
        version.override_logical_id(spec.version_variable_name)
        inputs[spec] = SecretInputs(value, version)
    return inputs


@dataclass(frozen=True, kw_only=True)
class SiteParametersProps:
    names: SiteNames
    """Names and tags of the site."""
    inputs: Mapping[SecretSpec, SecretInputs]
    """The secrets to store, with their variables (``secret_variables``)."""
    key_arn: str
    """The site's KMS key in this region."""
    provider: TerraformProvider
    """The provider of the region the parameters live in."""


class SiteParameters(Construct):
    """One ``aws_ssm_parameter`` SecureString per secret, ids = the secrets' key-store names."""

    parameters: dict[SecretSpec, ssm_parameter.SsmParameter]

    def __init__(self, scope: Construct, id: str, *, props: SiteParametersProps) -> None:
        super().__init__(scope, id)
        self.parameters = {}
        for spec, inputs in props.inputs.items():
            self.parameters[spec] = ssm_parameter.SsmParameter(
                self,
                spec.key_store_name,
                name=spec.parameter_name,
                type="SecureString",
                tier="Standard",
                key_id=props.key_arn,
                value_wo=inputs.value.string_value,
                value_wo_version=inputs.version.number_value,
                description=f"{spec.kind.value} of dhcp-failover site {spec.site}",
                tags={
                    **props.names.tags(spec.key_store_name.replace("/", "-")),
                    VERSION_TAG: inputs.version.string_value,
                },
                provider=props.provider,
            )

    def arns(self, specs: Iterable[SecretSpec]) -> list[str]:
        return [self.parameters[spec].arn for spec in specs]
