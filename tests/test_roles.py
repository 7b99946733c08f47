from pathlib import Path

from accounts.roles import ROLE_PERMISSIONS, Permission, Role

ROLES_DOC = Path(__file__).resolve().parent.parent / "docs" / "roles.md"


def parse_roles_table() -> dict[str, set[str]]:
    lines = [line for line in ROLES_DOC.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    table = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        permission, marks = cells[0], cells[1:]
        table[permission] = {
            role for role, mark in zip(header[1:], marks, strict=True) if mark == "yes"
        }
    return table


def test_docs_table_matches_code():
    documented = parse_roles_table()
    enforced = {
        perm.value: {role.value for role in roles} for perm, roles in ROLE_PERMISSIONS.items()
    }
    assert documented == enforced


def test_every_permission_has_a_row():
    assert set(ROLE_PERMISSIONS) == set(Permission)


def test_docs_header_lists_every_role():
    header = ROLES_DOC.read_text().split("| permission |", 1)[1].splitlines()[0]
    assert [cell.strip() for cell in header.strip(" |").split("|")] == list(Role.values)
