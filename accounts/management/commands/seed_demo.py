"""Create or update the demo workspace that `make run` shows."""

import random
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import Breeder, Experience, Membership, Operation, Tier, Workspace
from accounts.roles import Role
from accounts.scope import workspace_scope

DEMO_SLUG = "demo"
# Printed by `make run`; the demo workspace is for local use only.
DEMO_PASSWORD = "reptidex-demo-2026"  # noqa: S105
DEMO_STAFF = [
    ("owner@demo.example", "Olivia Owner", Role.OWNER),
    ("manager@demo.example", "Marcus Manager", Role.MANAGER),
    ("csm1@demo.example", "Alex Rivera", Role.CSM),
    ("csm2@demo.example", "Sam Okafor", Role.CSM),
]
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dmitri",
    "Emeka",
    "Farah",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kaia",
    "Luis",
    "Mina",
    "Noah",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Søren",
    "Tomás",
    "Uma",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoë",
]
LAST_NAMES = [
    "Adeyemi",
    "Becker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
]
SPECIES = [
    "Ball python",
    "Crested gecko",
    "Leopard gecko",
    "Bearded dragon",
    "Corn snake",
    "Blue-tongued skink",
    "Gargoyle gecko",
    "Boa constrictor",
    "Hognose snake",
]
TIME_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Europe/Madrid",
]
COUNTRIES = {
    "Europe/Berlin": "DE",
    "America/New_York": "US",
    "America/Los_Angeles": "US",
    "Europe/London": "GB",
    "Australia/Sydney": "AU",
    "Asia/Tokyo": "JP",
    "America/Sao_Paulo": "BR",
    "Europe/Madrid": "ES",
}


def demo_tier(animal_count: int, species_count: int, operation: str, experience: str) -> str:
    if experience == Experience.NEW:
        return Tier.NEW_BREEDER
    if animal_count >= 100 and species_count > 1 and operation == Operation.FULL_TIME:
        return Tier.ENTERPRISE
    if animal_count >= 25:
        return Tier.PROFESSIONAL
    return Tier.HOBBYIST


class Command(BaseCommand):
    help = "Create or update the demo workspace, its staff and its breeders (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--breeders", type=int, default=40, help="Number of demo breeders.")
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed; same seed, same data."
        )

    @transaction.atomic
    def handle(self, *args: object, **options: int) -> None:
        staff = {
            role: services.ensure_user(email, password=DEMO_PASSWORD, full_name=name)
            for email, name, role in DEMO_STAFF[:1]
        }
        owner = staff[Role.OWNER]
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
        if workspace is None:
            workspace = services.create_workspace(
                name="ReptiDex Demo", slug=DEMO_SLUG, owner=owner, time_zone="Europe/Berlin"
            )
        workspace.sender_name = "The ReptiDex team"
        workspace.sender_email = "success@demo.example"
        workspace.save(update_fields=["sender_name", "sender_email"])

        with workspace_scope(workspace):
            csms = []
            for email, name, role in DEMO_STAFF:
                user = services.ensure_user(email, password=DEMO_PASSWORD, full_name=name)
                Membership.objects.update_or_create(
                    workspace=workspace, user=user, defaults={"role": role}
                )
                if role == Role.CSM:
                    csms.append(user)
            self._seed_breeders(workspace, csms, options["breeders"], options["seed"])

        self.stdout.write(
            f"Demo workspace ready at /w/{DEMO_SLUG}/ with {options['breeders']} breeders."
        )
        for email, _name, role in DEMO_STAFF:
            self.stdout.write(f"  {role.label:<11} {email}  password: {DEMO_PASSWORD}")

    def _seed_breeders(self, workspace: Workspace, csms: list, count: int, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
        now = timezone.now()
        for index in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            zone = rng.choice(TIME_ZONES)
            experience = rng.choices([Experience.NEW, Experience.EXPERIENCED], [35, 65])[0]
            operation = rng.choices(
                [Operation.HOBBY, Operation.PART_TIME, Operation.FULL_TIME], [60, 28, 12]
            )[0]
            animal_count = {
                Operation.HOBBY: rng.randint(1, 24),
                Operation.PART_TIME: rng.randint(10, 90),
                Operation.FULL_TIME: rng.randint(40, 250),
            }[operation]
            species = rng.sample(SPECIES, k=1 if animal_count < 25 else rng.randint(1, 4))
            tier = demo_tier(animal_count, len(species), operation, experience)
            assigned = (
                csms[index % len(csms)]
                if tier in (Tier.ENTERPRISE, Tier.PROFESSIONAL) and csms
                else None
            )
            Breeder.objects.update_or_create(
                workspace=workspace,
                external_id=f"demo-user-{index + 1:04d}",
                defaults={
                    "name": f"{first} {last}",
                    "business_name": f"{last} Reptiles" if operation != Operation.HOBBY else "",
                    "email": f"breeder{index + 1:04d}@demo.example",
                    "time_zone": zone,
                    "country": COUNTRIES[zone],
                    "species": species,
                    "animal_count": animal_count,
                    "operation": operation,
                    "experience": experience,
                    "signed_up_at": now - timedelta(days=rng.randint(0, 400)),
                    "plan": rng.choice(["free", "keeper", "breeder_pro"]),
                    "tier": tier,
                    "assigned_csm": assigned,
                },
            )
