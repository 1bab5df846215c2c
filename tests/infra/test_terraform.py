"""infra/: formatting, validation and `terraform test` against schema-only providers."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.infra.conftest import INFRA, MODULES, REPO, ROOTS, Terraform, clean_env, terraform_binary
from tests.infra.iam_grants import other_token_creator_grants, self_signing_grants, state_blocks

_CHANGE_RE = re.compile(r"^\s*# (\S+) (will be|must be) (.+)$", re.MULTILINE)
_RUN_RE = re.compile(r'^\s*run "([^"]+)"\.\.\. (\w+)\s*$', re.MULTILINE)

# Kept when a tenant retires: the data and the identity that owns it.
DATA_RESOURCES = (
    "google_sql_database.this",
    "google_sql_user.this",
    "google_storage_managed_folder.this",
    "google_storage_managed_folder_iam_member.this",
    "module.identity.google_service_account.this",
)


def test_fmt() -> None:
    proc = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(INFRA)],
        capture_output=True,
        text=True,
        env=clean_env(REPO / ".no-such-home"),
        timeout=120,
    )
    assert proc.returncode == 0, f"terraform fmt -recursive infra wants changes:\n{proc.stdout}"


def test_no_lock_files_or_state_in_infra() -> None:
    found = [
        p.relative_to(REPO)
        for pattern in (".terraform.lock.hcl", "*.tfstate", "*.tfstate.backup", ".terraform")
        for p in INFRA.rglob(pattern)
    ]
    tracked = subprocess.run(
        ["git", "ls-files", "infra"], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    assert not [p for p in found if str(p) in tracked], "lock files or state are committed"


@pytest.mark.parametrize("module", MODULES)
def test_module_layout(module: str) -> None:
    folder = INFRA / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (folder / name).is_file(), f"infra/modules/{module}/{name} is missing"


@pytest.mark.parametrize("root", ROOTS)
def test_roots_have_a_gcs_backend(root: str) -> None:
    assert re.search(r'backend\s+"gcs"\s*\{\s*\}', (INFRA / root / "versions.tf").read_text())


@pytest.mark.parametrize("workdir", [*ROOTS, *(f"modules/{m}" for m in MODULES)])
def test_init_and_validate(terraform: Terraform, workdir: str) -> None:
    terraform.init(workdir)
    result = terraform(workdir, "validate", "-no-color").check(f"validate infra/{workdir}")
    assert "Success! The configuration is valid." in result.out
    assert "Warning" not in result.out, result.out


def run_sections(output: str) -> dict[str, tuple[str, str]]:
    """`terraform test -verbose` output split by run: name -> (status, text after it)."""
    marks = list(_RUN_RE.finditer(output))
    sections = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(output)
        sections[mark.group(1)] = (mark.group(2), output[mark.end() : end])
    return sections


_STATE_RE = re.compile(r"^\s*# (\S+):\s*$", re.MULTILINE)


def run_state_addresses(text: str) -> list[str]:
    """The resources an apply run of `terraform test -verbose` shows in its state."""
    return _STATE_RE.findall(text)


def changes(text: str) -> list[tuple[str, str]]:
    return [(address, f"{verb} {what}") for address, verb, what in _CHANGE_RE.findall(text)]


def test_platform_terraform_test(terraform: Terraform) -> None:
    terraform.init("platform")
    result = terraform("platform", "test", "-verbose", "-no-color", timeout=900)
    result.check("terraform test in infra/platform")
    assert re.search(r"Success! \d+ passed, 0 failed", result.out), result.out[-3000:]
    runs = run_sections(result.out)
    applied = run_state_addresses(runs["defaults"][1])
    assert "module.iap_ingress.google_compute_global_address.gateway" in applied
    # One object per project, shared by every environment: the CLI keeps it, not a root.
    assert [a for a in applied if "iap_settings" in a] == []
    blocks = state_blocks(runs["defaults"][1])
    assert other_token_creator_grants(blocks) == [] and self_signing_grants(blocks) == {}


def test_tenants_terraform_test(terraform: Terraform) -> None:
    # One test (not a fixture shared by several) so pytest-xdist runs it only once.
    terraform.init("tenants")
    result = terraform("tenants", "test", "-verbose", "-no-color", timeout=900)
    result.check("terraform test in infra/tenants")
    assert re.search(r"Success! \d+ passed, 0 failed", result.out), result.out[-3000:]
    runs = run_sections(result.out)
    assert {"ab", "add_c", "retire_b_plan", "retire_b", "all_retired"} <= set(runs)
    assert {name for name, (status, _) in runs.items() if status != "pass"} == set()
    check_adding_a_user_only_adds_that_users_resources(runs["add_c"][1])
    check_retiring_a_user_keeps_its_data_and_drops_the_rest(runs["retire_b_plan"][1])
    for run, active in (("ab", ("a", "b")), ("retire_b", ("a",))):
        blocks = state_blocks(runs[run][1])
        assert other_token_creator_grants(blocks) == [], run
        assert self_signing_grants(blocks) == {
            f'module.tenant["{user}"].google_service_account_iam_member.self_signing[0]': (
                f'module.tenant["{user}"].module.identity.google_service_account.this'
            )
            for user in active
        }, run


def check_adding_a_user_only_adds_that_users_resources(plan: str) -> None:
    planned = changes(plan)
    assert planned, "the plan of run add_c printed no changes"
    assert {what for _, what in planned} == {"will be created"}
    outside = [address for address, _ in planned if not address.startswith('module.tenant["c"].')]
    assert outside == []
    created = {address.removeprefix('module.tenant["c"].') for address, _ in planned}
    assert {"google_sql_database.this", "kubernetes_deployment_v1.this[0]"} <= created


def check_retiring_a_user_keeps_its_data_and_drops_the_rest(plan: str) -> None:
    planned = changes(plan)
    assert planned, "the plan of run retire_b_plan printed no changes"
    outside = [address for address, _ in planned if not address.startswith('module.tenant["b"].')]
    assert outside == [], "retiring b changes other tenants or shared resources"
    destroyed = {
        address.removeprefix('module.tenant["b"].')
        for address, what in planned
        if what == "will be destroyed"
    }
    assert {what for _, what in planned} == {"will be destroyed"}
    for kept in DATA_RESOURCES:
        assert kept not in destroyed
    for gone in (
        "kubernetes_namespace_v1.this[0]",
        "kubernetes_deployment_v1.this[0]",
        "kubernetes_service_v1.this[0]",
        "kubernetes_manifest.route[0]",
        "kubernetes_manifest.backend_policy[0]",
        "kubernetes_manifest.health_check[0]",
        'google_iap_web_iam_member.access["user:b@lab.org"]',
        'google_iap_web_iam_member.access["group:b-team@lab.org"]',
    ):
        assert gone in destroyed
