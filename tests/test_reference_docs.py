"""docs/: the tables that mirror code are generated (`python -m dhcp_failover docs --out docs/`),
the committed pages equal what the command generates, a hand edit of a generated table fails the
check, every check, field, rule, subcommand and module reaches the pages, links resolve, and the
everyday command blocks run as written in a copy of the checkout."""

from __future__ import annotations

import inspect
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel

from dhcp_failover import checks, reference_docs
from dhcp_failover.cli import build_parser, main
from dhcp_failover.constructs.rules import RULE_KINDS
from dhcp_failover.inventory import load_inventory
from dhcp_failover.model import Inventory
from dhcp_failover.secret_names import SecretKind

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
REGION_OF_PAGE = {
    "inventory-fields": "inventory.md",
    "validation-rules": "inventory.md",
    "security-group-rules": "aws.md",
    "site-secrets": "secrets.md",
    "cli-help": "operations.md",
    "held-states": "operations.md",
    "module-map": "design.md",
}


@dataclass(frozen=True)
class Result:
    returncode: int
    stderr: str


@pytest.fixture
def docs_command(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``python -m dhcp_failover docs ARGS``, in this process (the same main() as the command)."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(["docs", *args])
        return Result(code, capsys.readouterr().err)

    return run


@pytest.fixture
def docs_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    return copy


def region_body(text: str, name: str) -> str:
    match = re.search(rf"^<!-- BEGIN GENERATED {name}\b[^\n]*-->\n(.*?)^<!-- END GENERATED {name} -->",
                      text, flags=re.S | re.M)
    assert match, f"no region {name}"
    return match.group(1)


# --- the committed docs are what the code generates ------------------------------------------


def test_the_committed_docs_equal_what_the_docs_command_generates() -> None:
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "docs", "--out", "docs/", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{result.stderr}regenerate: python -m dhcp_failover docs --out docs/"
    assert result.stderr == ""


def test_every_generator_has_its_region_in_its_page() -> None:
    assert set(REGION_OF_PAGE) == set(reference_docs.GENERATORS)
    for name, page in REGION_OF_PAGE.items():
        assert region_body((DOCS / page).read_text(), name) == reference_docs.GENERATORS[name]()


@pytest.mark.parametrize("region", sorted(REGION_OF_PAGE))
def test_a_hand_edit_of_a_generated_table_fails_the_check_and_the_command_restores_it(
    docs_copy: Path, region: str, docs_command: Callable[..., Result]
) -> None:
    page = docs_copy / REGION_OF_PAGE[region]
    committed = page.read_text()
    body = region_body(committed, region)
    rows = [line for line in body.splitlines() if line.startswith(("|", "  "))]
    edited_row = rows[len(rows) // 2]
    page.write_text(committed.replace(body, body.replace(edited_row, edited_row.replace(" ", "  ", 1) + " x", 1)))

    result = docs_command("--out", str(docs_copy), "--check")
    assert result.returncode == 1
    assert result.stderr == (f"error: {page}: generated region '{region}' differs from the code; "
                             "run python -m dhcp_failover docs --out docs/\n")
    assert page.read_text() != committed, "--check writes nothing"

    assert docs_command("--out", str(docs_copy)).returncode == 0
    assert page.read_text() == committed
    assert docs_command("--out", str(docs_copy), "--check").returncode == 0


def test_prose_outside_the_generated_regions_is_kept(docs_copy: Path, docs_command: Callable[..., Result]) -> None:
    page = docs_copy / "aws.md"
    page.write_text(page.read_text().replace("# AWS: stacks and constructs", "# AWS: stacks and constructs, edited"))
    edited = page.read_text()
    assert docs_command("--out", str(docs_copy)).returncode == 0
    assert page.read_text() == edited


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda t: t.replace("<!-- END GENERATED security-group-rules -->", ""),
         "region 'security-group-rules' has no '<!-- END GENERATED security-group-rules -->' line"),
        (lambda t: t.replace("GENERATED security-group-rules", "GENERATED sg-rulez"),
         ("unknown generated region 'sg-rulez'; known: cli-help, held-states, inventory-fields, module-map, "
          "security-group-rules, site-secrets, validation-rules")),
    ],
    ids=["unclosed", "unknown"],
)
def test_a_broken_region_is_one_error_line_and_nothing_is_written(
    docs_copy: Path, damage: Callable[[str], str], message: str, docs_command: Callable[..., Result]
) -> None:
    page = docs_copy / "aws.md"
    page.write_text(damage(page.read_text()))
    stale = docs_copy / "inventory.md"
    stale.write_text(stale.read_text().replace("| `members` |", "| `membres` |"))
    before = {p.name: p.read_text() for p in docs_copy.glob("*.md")}

    result = docs_command("--out", str(docs_copy))
    assert result.returncode == 2
    assert result.stderr == f"error: {page}: {message}\n"
    assert {p.name: p.read_text() for p in docs_copy.glob("*.md")} == before


def test_a_page_set_without_a_region_is_refused(tmp_path: Path, docs_command: Callable[..., Result]) -> None:
    (tmp_path / "only.md").write_text("# nothing generated here\n")
    result = docs_command("--out", str(tmp_path), "--check")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {tmp_path}: no file holds the generated region ")
    assert result.stderr.count("\n") == 1


# --- the generated tables cover the code -----------------------------------------------------


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    seen[model.__name__] = model
    for field in model.model_fields.values():
        for inner in _classes_in(field.annotation):
            if inner.__name__ not in seen:
                _models(inner, seen)
    return seen


def _classes_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [c for arg in getattr(annotation, "__args__", ()) for c in _classes_in(arg)]


def test_every_field_of_every_inventory_model_is_in_the_fields_table() -> None:
    table = reference_docs.inventory_fields()
    models = _models(Inventory, {})
    assert {"Site", "Member", "Placement", "Subnet", "Pool", "Options", "ClassMatch", "StateBackend"} <= set(models)
    for name, model in models.items():
        section = table if name == "Inventory" else table.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
        for field, info in model.model_fields.items():
            key = info.alias or field  # the key an inventory writes
            assert f"| `{key}` |" in section, f"{name}.{key} missing from the fields table"


def test_every_field_says_what_it_means() -> None:
    undescribed = [f"{name}.{field}" for name, model in _models(Inventory, {}).items()
                   for field, info in model.model_fields.items() if not info.description]
    assert undescribed == [], "give these a Field(description=...): the inventory reference shows it"


def test_the_fields_table_reads_types_defaults_and_meanings_from_the_model() -> None:
    table = reference_docs.inventory_fields()
    assert "| `port` | integer (1..65535) | `7911` | OMAPI port of both members; never a failover port. |" in table
    assert "| `role` | one of `primary`, `secondary` | required |" in table
    assert "| `subnets` | list of [Subnet](#subnet) (at most 1000 items) | `[]` |" in table
    assert "| `ntp_servers` | list of IPv4 address or text (1 to 16 items) | `[\"169.254.169.123\"]` |" in table


def test_every_kind_of_security_group_rule_is_in_the_table() -> None:
    table = reference_docs.security_group_rules()
    assert table.count("\n| `") == len(RULE_KINDS)
    assert "| `icmp-echo-to-clients` | egress | icmp | type 8, code 0 | ping-check of an address" in table
    assert "| `failover-tcp-from-partner` | ingress | tcp | from the site |" in table


def test_every_kind_of_secret_is_in_the_secrets_table() -> None:
    table = reference_docs.site_secret_names()
    for kind in SecretKind:
        assert f"| `{kind.value}` |" in table
    # WireGuard keys are made on the members, so no pipeline exports one.
    assert "wireguard" not in table


def _looks_like_a_check(function: Callable[..., object], parameter: str) -> bool:
    signature = inspect.signature(function)
    names = [p.annotation for p in signature.parameters.values()]
    return names == [parameter] and "Problem" in str(signature.return_annotation)


def test_every_check_is_registered_and_documented() -> None:
    documented = [check for _, group in checks.DOCUMENTED_CHECKS for check in group]
    registered = {check.__name__ for check in documented}
    runners = {"check_inventory", "_checked", "_check_site"}  # they run the registries
    for name, function in vars(checks).items():
        if not inspect.isfunction(function) or function.__module__ != checks.__name__ or name in runners:
            continue
        if _looks_like_a_check(function, "Site") or _looks_like_a_check(function, "Inventory"):
            assert name in registered, f"checks.{name} is not in a registry of checks"
    rules = reference_docs.validation_rules()
    for check in documented:
        assert check.__doc__ and check.__doc__.strip(), f"checks.{check.__name__} needs a docstring"
        assert f"| `{check.__name__.lstrip('_')}` |" in rules


def test_every_subcommand_has_its_help_in_the_command_reference() -> None:
    reference = reference_docs.cli_help()
    parser = build_parser()
    subcommands = reference_docs.subcommands(parser)
    assert {"validate", "render", "keys", "status", "drill", "import", "diagram", "rollout", "schema", "docs"} <= set(
        subcommands
    )
    for name, sub in subcommands.items():
        assert f"### `{name}`" in reference
        assert f"usage: python -m dhcp_failover {name} " in reference
        for action in sub._actions:
            for option in action.option_strings:
                assert option in reference, f"{name} {option} missing from the command reference"


def test_the_command_reference_does_not_depend_on_the_terminal_width() -> None:
    narrow = subprocess.run([sys.executable, "-c", "from dhcp_failover import reference_docs as r; print(r.cli_help())"],
                            cwd=REPO, capture_output=True, text=True, timeout=60, env={"COLUMNS": "40", "PATH": ""})
    assert narrow.returncode == 0, narrow.stderr
    assert narrow.stdout == reference_docs.cli_help() + "\n"


def test_every_module_is_in_the_module_map() -> None:
    table = reference_docs.module_map()
    package = REPO / "dhcp_failover"
    for module in package.rglob("*.py"):
        if module.name != "__main__.py":
            assert f"| `{module.relative_to(REPO).as_posix()}` |" in table
    for folder in (REPO / "templates").iterdir():
        assert f"| `templates/{folder.name}/` |" in table


# --- the pages read as a whole ---------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_every_link_between_pages_resolves_to_a_file_and_heading() -> None:
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: link to {target} (no such file)"
            if anchor:
                assert anchor in _anchors(linked), f"{page.name}: link to {target} (no such heading)"


def test_the_readme_is_a_front_page_with_a_map_of_docs() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 160
    for page in DOCS.glob("*.md"):
        assert f"](docs/{page.name})" in readme, f"the README's map of docs/ misses {page.name}"
    assert "make synth" in readme and "make test" in readme
    assert "## Dependencies and why" in readme


def _python_command_lines(page: Path, section: str) -> list[list[str]]:
    """The ``python -m dhcp_failover`` lines of the first sh block after ``section``."""
    text = page.read_text().split(section, 1)[1]
    block = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert block, f"{page.name}: no sh block after {section!r}"
    lines = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [words for words in lines if words[:3] == ["python", "-m", "dhcp_failover"]]


def test_the_everyday_commands_run_as_written_in_a_copy_of_the_checkout(tmp_path: Path) -> None:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    clone = tmp_path / "checkout"
    for name in [*tracked, *(str(p.relative_to(REPO)) for p in DOCS.glob("*.md"))]:
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    commands = _python_command_lines(REPO / "README.md", "Day to day")
    commands += _python_command_lines(DOCS / "operations.md", "# Operations")
    commands += _python_command_lines(DOCS / "operations.md", "## Generated docs")
    commands = list({shlex.join(words): words for words in commands}.values())  # the README repeats two
    assert len(commands) >= 6
    for words in commands:
        result = subprocess.run([sys.executable, *words[1:]], cwd=clone, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{shlex.join(words)}: {result.stderr}"
    sites = [site.name for site in load_inventory(REPO / "examples" / "multi-site.yaml").sites]
    for site in sites:
        assert (clone / "out" / site).is_dir(), f"render wrote nothing for {site}"
        assert (clone / "out" / "diagrams" / f"{site}.mmd").is_file(), f"diagram drew nothing for {site}"
