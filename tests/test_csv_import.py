"""The import_csv command with mapping files: each kind, the shipped RavenStack mappings
on small files written for these tests, and errors that name the file and line."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEntry, Breeder
from accounts.scope import workspace_scope
from lifecycle.import_kinds import EventsHandler, ImportContext
from lifecycle.import_mapping import MappingError, load_mapping
from lifecycle.models.billing import (
    BillingTimelineEntry,
    Cancellation,
    StripeEvent,
    StripeEventStatus,
    Subscription,
    TimelineKind,
)
from lifecycle.models.events import Event
from lifecycle.models.imports import ImportRun, ImportStatus
from lifecycle.models.tickets import Ticket
from tests import stripe_payloads as sp
from tests.factories import make_breeder

RAVENSTACK = Path(__file__).resolve().parent.parent / "docs" / "mappings" / "ravenstack"

# Rows in the layout of the RavenStack exports, with values invented for these tests.
ACCOUNTS = """\
account_id,account_name,industry,country,signup_date,referral_source,plan_tier,seats,is_trial,churn_flag
A-000001,Basking Co,EdTech,UK,2024-03-05,organic,Pro,12,False,False
A-000002,Monitor Works,FinTech,US,2023-11-20,ads,Basic,3,True,False
A-000003,Gecko Garden,DevTools,DE,2024-07-01,partner,Enterprise,40,False,True
"""
SUBSCRIPTIONS = """\
subscription_id,account_id,start_date,end_date,plan_tier,seats,mrr_amount,arr_amount,is_trial,upgrade_flag,downgrade_flag,churn_flag,billing_frequency,auto_renew_flag
S-000001,A-000001,2024-03-05,,Pro,12,588,7056,False,True,False,False,monthly,True
S-000002,A-000002,2024-01-10,2024-06-30,Basic,3,57,684,False,False,False,True,annual,False
S-000003,A-000003,2024-07-01,,Enterprise,40,0,0,True,False,False,False,annual,True
"""
TICKETS = """\
ticket_id,account_id,submitted_at,closed_at,resolution_time_hours,priority,first_response_time_minutes,satisfaction_score,escalation_flag
T-000001,A-000001,2024-05-02,2024-05-03 06:00:00,30.0,medium,45,4.0,False
T-000002,A-000002,2024-05-09,2024-05-09 17:00:00,17.0,urgent,12,,True
"""
CHURN = """\
churn_event_id,account_id,churn_date,reason_code,refund_amount_usd,preceding_upgrade_flag,preceding_downgrade_flag,is_reactivation,feedback_text
C-000001,A-000002,2024-06-30,pricing,12.5,False,True,False,too expensive
C-000002,A-000003,2024-09-14,support,0.0,False,False,True,
"""
USAGE = """\
usage_id,subscription_id,usage_date,feature_name,usage_count,usage_duration_secs,error_count,is_beta_feature
U-000001,S-000001,2024-04-01,feature_3,9,1458,0,False
U-000002,S-000003,2024-08-02,feature_17,2,300,1,True
U-000001,S-000001,2024-04-02,feature_3,1,10,0,False
"""


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def run_import(workspace, kind, mapping, csv_path, *extra):
    out = StringIO()
    call_command(
        "import_csv",
        "--workspace",
        workspace.slug,
        "--kind",
        kind,
        "--mapping",
        str(mapping),
        str(csv_path),
        "--no-progress",
        *extra,
        stdout=out,
        stderr=StringIO(),
    )
    return out.getvalue()


def import_fails(workspace, kind, mapping, csv_path):
    """Run an import that must fail; returns the command's error and its error lines."""
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(
            "import_csv",
            "--workspace",
            workspace.slug,
            "--kind",
            kind,
            "--mapping",
            str(mapping),
            str(csv_path),
            "--no-progress",
            stdout=StringIO(),
            stderr=err,
        )
    return str(failure.value), err.getvalue()


@pytest.fixture
def ravenstack(cast, tmp_path):
    """Import the RavenStack-shaped accounts and subscriptions into Acme."""
    run_import(
        cast.acme,
        "breeders",
        RAVENSTACK / "accounts.toml",
        write(tmp_path, "accounts.csv", ACCOUNTS),
    )
    run_import(
        cast.acme,
        "subscriptions",
        RAVENSTACK / "subscriptions.toml",
        write(tmp_path, "subscriptions.csv", SUBSCRIPTIONS),
    )
    return tmp_path


def in_scope(workspace, model, **filters):
    with workspace_scope(workspace):
        return list(model.objects.filter(**filters).order_by("pk"))


# Each kind -----------------------------------------------------------------------


def test_breeders_imported(cast, tmp_path):
    output = run_import(
        cast.acme,
        "breeders",
        RAVENSTACK / "accounts.toml",
        write(tmp_path, "accounts.csv", ACCOUNTS),
    )
    assert "Imported 3 rows of breeders" in output
    assert "3 created, 0 updated" in output
    with workspace_scope(cast.acme):
        breeder = Breeder.objects.get(external_id="A-000001")
    assert breeder.business_name == "Basking Co"
    assert breeder.country == "GB"
    assert breeder.plan == "Pro"
    assert breeder.signed_up_at == datetime(2024, 3, 5, tzinfo=UTC)
    with workspace_scope(cast.acme):
        assert AuditEntry.objects.filter(action="import.completed").count() == 1


def test_reimport_updates_without_duplicates(cast, tmp_path):
    csv_path = write(tmp_path, "accounts.csv", ACCOUNTS)
    run_import(cast.acme, "breeders", RAVENSTACK / "accounts.toml", csv_path)
    output = run_import(cast.acme, "breeders", RAVENSTACK / "accounts.toml", csv_path)
    assert "0 created, 3 updated" in output
    assert len(in_scope(cast.acme, Breeder, external_id__startswith="A-")) == 3


def test_empty_cell_keeps_stored_value(cast, tmp_path):
    breeder = make_breeder(cast.acme, external_id="A-000001", name="Kept Name", plan="Old")
    csv_text = "account_id,account_name,country,signup_date,plan_tier\nA-000001,,,,Pro\n"
    mapping = write(
        tmp_path,
        "partial.toml",
        'kind = "breeders"\n[columns]\naccount_id = "external_id"\naccount_name = "name"\n'
        'country = "country"\nsignup_date = "signed_up_at"\nplan_tier = "plan"\n',
    )
    run_import(cast.acme, "breeders", mapping, write(tmp_path, "partial.csv", csv_text))
    breeder.refresh_from_db()
    assert breeder.name == "Kept Name"
    assert breeder.plan == "Pro"


def test_breeder_matched_by_email_gets_external_id(cast, tmp_path):
    existing = make_breeder(cast.acme, external_id="", email="Monitor@Works.example")
    mapping = write(
        tmp_path,
        "people.toml",
        'kind = "breeders"\n[columns]\nid = "external_id"\nmail = "email"\nname = "name"\n',
    )
    csv_text = "id,mail,name\nu-77,monitor@works.example,Monitor Works\n"
    output = run_import(cast.acme, "breeders", mapping, write(tmp_path, "people.csv", csv_text))
    assert "0 created, 1 updated" in output
    existing.refresh_from_db()
    assert existing.external_id == "u-77"
    assert existing.name == "Monitor Works"


def test_subscriptions_imported(cast, ravenstack):
    with workspace_scope(cast.acme):
        active = Subscription.objects.get(external_id="S-000001")
        ended = Subscription.objects.get(external_id="S-000002")
        trial = Subscription.objects.get(external_id="S-000003")
    assert active.breeder.external_id == "A-000001"
    assert active.status == "active"
    assert active.mrr_minor == 58800
    assert active.currency == "usd"
    assert active.quantity == 12
    assert active.interval == "month"
    assert active.source == "import"
    assert ended.status == "canceled"
    assert ended.interval == "year"
    assert ended.ended_at == datetime(2024, 6, 30, tzinfo=UTC)
    assert ended.canceled_at == ended.ended_at
    assert ended.cancel_at_period_end is True
    assert trial.status == "trialing"

    kinds = [entry.kind for entry in in_scope(cast.acme, BillingTimelineEntry, subscription=active)]
    assert kinds == [TimelineKind.SUBSCRIPTION_CREATED, TimelineKind.PLAN_UPGRADED]
    ended_entries = in_scope(
        cast.acme, BillingTimelineEntry, subscription=ended, kind=TimelineKind.SUBSCRIPTION_CANCELED
    )
    assert [entry.occurred_at for entry in ended_entries] == [datetime(2024, 6, 30, tzinfo=UTC)]


def test_subscription_price_normalised_to_mrr(cast, tmp_path):
    make_breeder(cast.acme, external_id="u-1")
    mapping = write(
        tmp_path,
        "prices.toml",
        textwrap.dedent(
            """\
            kind = "subscriptions"
            [columns]
            id = "external_id"
            user = "breeder_external_id"
            started = "started_at"
            price = "price"
            every = "interval"
            seats = "quantity"
            [constants]
            currency = "eur"
            """
        ),
    )
    csv_text = (
        "id,user,started,price,every,seats\n"
        "sub-y,u-1,2025-01-01,120,yearly,2\n"
        "sub-w,u-1,2025-01-01,6,weekly,1\n"
    )
    run_import(cast.acme, "subscriptions", mapping, write(tmp_path, "prices.csv", csv_text))
    with workspace_scope(cast.acme):
        assert Subscription.objects.get(external_id="sub-y").mrr_minor == 2000
        assert Subscription.objects.get(external_id="sub-w").mrr_minor == 2600


def test_tickets_imported(cast, ravenstack):
    output = run_import(
        cast.acme,
        "tickets",
        RAVENSTACK / "support_tickets.toml",
        write(ravenstack, "tickets.csv", TICKETS),
    )
    assert "2 created" in output
    with workspace_scope(cast.acme):
        first = Ticket.objects.get(external_id="T-000001")
        second = Ticket.objects.get(external_id="T-000002")
    assert first.subject == "RavenStack ticket T-000001"
    assert first.category == "technical"
    assert first.priority == "normal"
    assert first.status == "solved"
    assert first.satisfaction_rating == 4
    assert first.opened_at == datetime(2024, 5, 2, tzinfo=UTC)
    assert first.first_responded_at == datetime(2024, 5, 2, 0, 45, tzinfo=UTC)
    assert first.solved_at == datetime(2024, 5, 3, 6, tzinfo=UTC)
    assert first.escalated_to == ""
    assert second.satisfaction_rating is None
    assert second.priority == "urgent"
    assert second.escalation_level == 1
    assert second.escalated_to == "product"


def test_cancellations_imported(cast, ravenstack):
    run_import(
        cast.acme,
        "cancellations",
        RAVENSTACK / "churn_events.toml",
        write(ravenstack, "churn.csv", CHURN),
    )
    with workspace_scope(cast.acme):
        first = Cancellation.objects.get(external_id="C-000001")
        second = Cancellation.objects.get(external_id="C-000002")
    assert first.breeder.external_id == "A-000002"
    assert first.reason == "pricing"
    assert first.feedback == "too expensive"
    assert first.refund_minor == 1250
    assert first.preceded_by_downgrade is True
    assert first.canceled_at == datetime(2024, 6, 30, tzinfo=UTC)
    assert second.is_reactivation is True
    assert second.feedback == ""
    [entry] = in_scope(cast.acme, BillingTimelineEntry, source_key="import:cancellation:C-000001")
    assert entry.summary == "Canceled (reason: pricing; feedback: too expensive; refund 12.50 USD)"


def test_events_imported_once(cast, ravenstack):
    usage = write(ravenstack, "usage.csv", USAGE)
    output = run_import(cast.acme, "events", RAVENSTACK / "feature_usage.toml", usage, "--dry-run")
    assert "Checked (dry run, nothing kept) 3 rows of events" in output
    assert "1 repeated ids (first row kept)" in output
    assert in_scope(cast.acme, Event) == []

    run_import(cast.acme, "events", RAVENSTACK / "feature_usage.toml", usage)
    events = in_scope(cast.acme, Event)
    assert sorted(event.message_id for event in events) == ["U-000001", "U-000002"]
    assert {event.event_name for event in events} == {"Feature Used"}
    assert events[0].processed_at is None

    # Importing the same file again adds nothing: the messageId deduplication applies.
    run_import(cast.acme, "events", RAVENSTACK / "feature_usage.toml", usage)
    assert len(in_scope(cast.acme, Event)) == 2
    assert in_scope(cast.globex, Event) == []


def test_event_rows_shaped_as_track_calls(cast, ravenstack):
    mapping = load_mapping(
        (RAVENSTACK / "feature_usage.toml").read_text(), name="feature_usage.toml"
    )
    handler = EventsHandler()
    ctx = ImportContext(
        workspace=cast.acme,
        mapping=mapping,
        time_zone=UTC,  # type: ignore[arg-type]
        event_writer=lambda workspace, rows: len(rows),
    )
    with workspace_scope(cast.acme):
        handler.prepare(ctx)
        record = handler.validate(
            mapping.map_row(
                {
                    "usage_id": "U-9",
                    "subscription_id": "S-000003",
                    "usage_date": "2024-08-02",
                    "feature_name": "feature_17",
                    "usage_count": "2",
                    "usage_duration_secs": "300",
                    "error_count": "1",
                    "is_beta_feature": "True",
                }
            ),
            ctx,
        )
    assert record.row == {
        "type": "track",
        "messageId": "U-9",
        "userId": "A-000003",
        "event": "Feature Used",
        "timestamp": "2024-08-02T00:00:00+00:00",
        "properties": {
            "feature": "feature_17",
            "usage_count": 2,
            "duration_seconds": 300,
            "error_count": 1,
            "beta": True,
        },
        "context": {"library": {"name": "reptidex-csv-import"}},
    }


def test_breeder_import_retries_unmatched_stripe_events(
    cast, tmp_path, django_capture_on_commit_callbacks
):
    with workspace_scope(cast.acme):
        stripe_event = sp.event("customer.created", sp.customer("cus_IM", user_id="A-000001"))
        StripeEvent.objects.create(
            stripe_id=stripe_event["id"],
            type="customer.created",
            stripe_created=datetime.now(tz=UTC),
            customer_id="cus_IM",
            payload=stripe_event,
            status=StripeEventStatus.UNMATCHED,
        )
    with django_capture_on_commit_callbacks(execute=True):
        run_import(
            cast.acme, "breeders", RAVENSTACK / "accounts.toml", write(tmp_path, "a.csv", ACCOUNTS)
        )
    [event] = in_scope(cast.acme, StripeEvent)
    assert event.status == StripeEventStatus.PROCESSED


# Errors name the file and line ---------------------------------------------------


def test_bad_date_names_line_and_imports_nothing(cast, tmp_path):
    bad = ACCOUNTS.replace("2023-11-20", "2023-13-20")
    message, errors = import_fails(
        cast.acme, "breeders", RAVENSTACK / "accounts.toml", write(tmp_path, "accounts.csv", bad)
    )
    assert "Nothing was imported from accounts.csv: 1 error(s) in 3 rows" in message
    assert (
        "accounts.csv line 3: signed_up_at: '2023-13-20' does not match the date format" in errors
    )
    assert in_scope(cast.acme, Breeder, external_id__startswith="A-") == []
    [run] = in_scope(cast.acme, ImportRun)
    assert run.status == ImportStatus.FAILED
    assert run.error_count == 1
    assert run.errors[0].startswith("accounts.csv line 3: signed_up_at:")


def test_bad_category_names_field_and_line(cast, ravenstack):
    mapping = write(
        ravenstack,
        "tickets.toml",
        textwrap.dedent(
            """\
            kind = "tickets"
            date_formats = ["%Y-%m-%d"]
            [columns]
            id = "external_id"
            account = "breeder_external_id"
            title = "subject"
            type = "category"
            opened = "opened_at"
            """
        ),
    )
    csv_text = (
        "id,account,title,type,opened\n"
        "T-1,A-000001,Export fails,technical,2024-05-02\n"
        "T-2,A-000001,Card declined,payments,2024-05-03\n"
        "T-3,A-000009,Lost password,account,2024-05-04\n"
    )
    _, errors = import_fails(cast.acme, "tickets", mapping, write(ravenstack, "desk.csv", csv_text))
    lines = errors.strip().splitlines()
    assert lines[0] == (
        "desk.csv line 3: category: 'payments' is not valid; use one of technical, account, "
        "feature_request, billing."
    )
    assert lines[1].startswith(
        "desk.csv line 4: breeder_external_id: no breeder has the external id 'A-000009'"
    )
    assert in_scope(cast.acme, Ticket) == []


def test_missing_column_reported(cast, tmp_path):
    csv_text = ACCOUNTS.replace("signup_date", "created_on")
    message, errors = import_fails(
        cast.acme,
        "breeders",
        RAVENSTACK / "accounts.toml",
        write(tmp_path, "accounts.csv", csv_text),
    )
    assert "Nothing was imported from accounts.csv" in message
    assert (
        "accounts.csv line 1: the mapping accounts.toml needs the column(s) signup_date" in errors
    )


def test_short_row_reported(cast, tmp_path):
    csv_text = ACCOUNTS + "A-000004,Short Row,EdTech\n"
    _, errors = import_fails(
        cast.acme,
        "breeders",
        RAVENSTACK / "accounts.toml",
        write(tmp_path, "accounts.csv", csv_text),
    )
    assert "accounts.csv line 5: the row has 3 fields but the header has 10" in errors


def test_kind_must_match_mapping(cast, tmp_path):
    message, _ = import_fails(
        cast.acme,
        "tickets",
        RAVENSTACK / "accounts.toml",
        write(tmp_path, "accounts.csv", ACCOUNTS),
    )
    assert "the mapping accounts.toml is for breeders, not tickets" in message


def test_unknown_workspace_reported(cast, tmp_path):
    with pytest.raises(CommandError, match="No workspace has the slug 'nope'"):
        call_command(
            "import_csv",
            "--workspace",
            "nope",
            "--kind",
            "breeders",
            "--mapping",
            str(RAVENSTACK / "accounts.toml"),
            str(write(tmp_path, "accounts.csv", ACCOUNTS)),
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kind = "animals"\n[columns]\na = "b"\n', "kind must be one of"),
        (
            'kind = "breeders"\n[columns]\na = "shoe_size"\n',
            "columns.a: 'shoe_size' is not a field",
        ),
        (
            'kind = "breeders"\n[columns]\na = { field = "email", colour = "red" }\n',
            "unknown key 'colour'",
        ),
        (
            'kind = "breeders"\ntime_zone = "Mars/Base"\n[columns]\na = "email"\n',
            "not an IANA time zone",
        ),
        ('kind = "breeders"\n[columns\n', "is not valid TOML"),
    ],
)
def test_bad_mapping_explained(text, message):
    with pytest.raises(MappingError, match=message):
        load_mapping(text, name="mapping.toml")


def test_json_mapping_accepted(cast, tmp_path):
    mapping = write(
        tmp_path,
        "accounts.json",
        json.dumps(
            {"kind": "breeders", "columns": {"account_id": "external_id", "account_name": "name"}}
        ),
    )
    run_import(cast.acme, "breeders", mapping, write(tmp_path, "accounts.csv", ACCOUNTS))
    with workspace_scope(cast.acme):
        assert Breeder.objects.get(external_id="A-000003").name == "Gecko Garden"


def test_dry_run_keeps_nothing(cast, tmp_path):
    output = run_import(
        cast.acme,
        "breeders",
        RAVENSTACK / "accounts.toml",
        write(tmp_path, "accounts.csv", ACCOUNTS),
        "--dry-run",
    )
    assert "3 would be created" in output
    assert in_scope(cast.acme, Breeder, external_id__startswith="A-") == []
    [run] = in_scope(cast.acme, ImportRun)
    assert run.status == ImportStatus.DRY_RUN


# Tenant isolation ----------------------------------------------------------------


def test_import_stays_in_its_workspace(cast, tmp_path):
    globex_twin = make_breeder(cast.globex, external_id="A-000001", business_name="Globex Twin")
    run_import(
        cast.acme, "breeders", RAVENSTACK / "accounts.toml", write(tmp_path, "a.csv", ACCOUNTS)
    )
    globex_twin.refresh_from_db()
    assert globex_twin.business_name == "Globex Twin"
    assert len(in_scope(cast.acme, Breeder, external_id="A-000001")) == 1

    make_breeder(cast.globex, external_id="G-ONLY")
    csv_text = TICKETS.replace("A-000001", "G-ONLY")
    _, errors = import_fails(
        cast.acme,
        "tickets",
        RAVENSTACK / "support_tickets.toml",
        write(tmp_path, "t.csv", csv_text),
    )
    assert "no breeder has the external id 'G-ONLY'" in errors
    assert Ticket.unscoped_objects.count() == 0
