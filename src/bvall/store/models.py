"""Django models of the study database: the cohort's tables, sites, users' roles, API tokens.

The cohort tables are generated from :data:`bvall.cohort.schema.TABLES`, so the database stores
exactly the cohort's columns under the same names (``patient_id`` and ``site_id`` are the
database columns of real foreign keys). Values are kept as entered: a lab value with its unit as
reported, a missing value as NULL (never an empty string or a zero).

Every cohort table has a ``version`` (optimistic concurrency: a save names the version it edited)
and a history table (django-simple-history) holding one row per insert, update and delete with
who, when, the reason and the full record, from which field-level before/after is read. History
tables are append-only; migration ``0003`` makes the database refuse UPDATE and DELETE on them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from bvall.cohort.schema import TABLES, Column, TableSchema

#: Model class name of each cohort table.
MODEL_NAMES: dict[str, str] = {
    "patients": "Patient",
    "genetic_findings": "GeneticFinding",
    "treatment_courses": "TreatmentCourse",
    "dose_administrations": "DoseAdministration",
    "concomitant_medications": "ConcomitantMedication",
    "labs": "Lab",
    "vitals": "Vital",
    "neuro_assessments": "NeuroAssessment",
    "marrow_assessments": "MarrowAssessment",
    "adverse_events": "AdverseEvent",
    "transfusions": "Transfusion",
    "follow_up_events": "FollowUpEvent",
    "reported_summaries": "ReportedSummary",
    "provenance": "Provenance",
}

ROLES: tuple[tuple[str, str], ...] = (
    ("admin", "Administrator"),
    ("investigator", "Investigator"),
    ("data_entry", "Data entry"),
    ("monitor", "Monitor (read-only)"),
)


class SiteManager(models.Manager["Site"]):
    def get_by_natural_key(self, code: str) -> Site:
        return self.get(code=code)


class Site(models.Model):
    """A treating site; patients belong to one, users see the patients of theirs."""

    objects = SiteManager()
    code = models.CharField(max_length=40, unique=True, help_text="Short code, as in site_id.")
    name = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords(table_name="sites_history")

    class Meta:
        db_table = "sites"
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.code} – {self.name}" if self.name else self.code

    def natural_key(self) -> tuple[str]:
        return (self.code,)


class StudyInfo(models.Model):
    """The metadata of the cohort held in this database (one row): name, title, synthetic."""

    name = models.CharField(max_length=100, default="study")
    metadata = models.JSONField(default=dict)
    history = HistoricalRecords(table_name="study_info_history")

    class Meta:
        db_table = "study_info"

    def __str__(self) -> str:
        return str(self.metadata.get("title") or self.name)


def _db_field(schema: TableSchema, col: Column) -> models.Field:
    """The Django field that stores ``col`` exactly (NULL for missing)."""
    blank = not col.required
    null = not col.required
    if col.type == "string":
        if col.vocabulary or col.pattern:
            # bounded by the vocabulary or the identifier pattern
            return models.CharField(max_length=100, null=null, blank=blank)
        return models.TextField(null=null, blank=blank)
    if col.type == "time":
        return models.CharField(max_length=5, null=null, blank=blank)
    if col.type == "integer":
        return models.BigIntegerField(null=null, blank=blank)
    if col.type == "number":
        # float64 in the cohort; a double here round-trips every value exactly
        return models.FloatField(null=null, blank=blank)
    if col.type == "date":
        return models.DateField(null=null, blank=blank)
    if col.type == "boolean":
        return models.BooleanField(null=True, blank=True)
    raise AssertionError(f"internal: no field for {schema.name}.{col.name} ({col.type})")


def _cohort_model(schema: TableSchema) -> type[models.Model]:
    attrs: dict[str, Any] = {"__module__": __name__, "__doc__": schema.description}
    for col in schema.columns:
        if col.name == "patient_id" and schema.name == "patients":
            attrs[col.name] = models.CharField(max_length=40, unique=True)
        elif col.name == "patient_id" and schema.name != "provenance":
            # the attribute `patient` stores its key in the column patient_id, as in the cohort
            attrs["patient"] = models.ForeignKey(
                "store.Patient",
                to_field="patient_id",
                db_column="patient_id",
                on_delete=models.PROTECT,
                related_name=schema.name,
            )
        elif col.name == "site_id" and schema.name == "patients":
            attrs["site"] = models.ForeignKey(
                Site,
                to_field="code",
                db_column="site_id",
                on_delete=models.PROTECT,
                null=True,
                blank=True,
                related_name="patients",
            )
        else:
            attrs[col.name] = _db_field(schema, col)
    attrs["version"] = models.PositiveIntegerField(
        default=1, help_text="Incremented by every save; a save names the version it edited."
    )
    attrs["history"] = HistoricalRecords(table_name=f"{schema.name}_history")
    meta: dict[str, Any] = {
        "db_table": schema.name,
        "ordering": ("id",),
        # the table's own name is its plural (Django would write "reported summarys")
        "verbose_name_plural": schema.name.replace("_", " "),
    }
    if schema.name == "labs":
        meta["indexes"] = [models.Index(fields=["patient", "test"], name="labs_patient_test")]
    attrs["Meta"] = type("Meta", (), meta)
    attrs["__str__"] = _record_str
    return type(MODEL_NAMES[schema.name], (models.Model,), attrs)


def _record_str(self: models.Model) -> str:
    pid = getattr(self, "patient_id", None)
    return f"{self._meta.db_table} #{self.pk}" + (f" ({pid})" if pid else "")


Patient = _cohort_model(TABLES["patients"])
GeneticFinding = _cohort_model(TABLES["genetic_findings"])
TreatmentCourse = _cohort_model(TABLES["treatment_courses"])
DoseAdministration = _cohort_model(TABLES["dose_administrations"])
ConcomitantMedication = _cohort_model(TABLES["concomitant_medications"])
Lab = _cohort_model(TABLES["labs"])
Vital = _cohort_model(TABLES["vitals"])
NeuroAssessment = _cohort_model(TABLES["neuro_assessments"])
MarrowAssessment = _cohort_model(TABLES["marrow_assessments"])
AdverseEvent = _cohort_model(TABLES["adverse_events"])
Transfusion = _cohort_model(TABLES["transfusions"])
FollowUpEvent = _cohort_model(TABLES["follow_up_events"])
ReportedSummary = _cohort_model(TABLES["reported_summaries"])
Provenance = _cohort_model(TABLES["provenance"])

#: Model of each cohort table, in the cohort's table order.
COHORT_MODELS: dict[str, type[models.Model]] = {
    name: globals()[cls] for name, cls in MODEL_NAMES.items()
}


class Profile(models.Model):
    """A user's role and sites. Without ``all_sites`` a user sees only their sites' patients."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    role = models.CharField(max_length=20, choices=ROLES, default="monitor")
    all_sites = models.BooleanField(
        default=False, help_text="Sees every site's patients (and patients without a site)."
    )
    sites = models.ManyToManyField(Site, blank=True, related_name="members")
    history = HistoricalRecords(table_name="profiles_history")

    class Meta:
        db_table = "profiles"

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; it is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(table_name="api_tokens_history")

    class Meta:
        db_table = "api_tokens"
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class MonitoringPlan(models.Model):
    """A saved phase II design (``bvall design ... --save``) registered for live monitoring.

    ``document`` is the design file as read (validated by :func:`bvall.design.read_design` on
    registration and on every evaluation).
    """

    name = models.CharField(max_length=200)
    design_type = models.CharField(max_length=40)
    document = models.JSONField()
    active = models.BooleanField(default=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    registered = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(table_name="monitoring_plans_history")

    class Meta:
        db_table = "monitoring_plans"
        ordering = ("-registered",)

    def __str__(self) -> str:
        return f"{self.name} ({self.design_type})"


class MonitoringEvent(models.Model):
    """A boundary crossing of a monitoring plan: written once per crossing, never changed.

    Append-only like the history tables (migration ``0004``): who evaluated, when, which plan,
    which look, what was crossed, and the evaluation behind it.
    """

    plan = models.ForeignKey(MonitoringPlan, on_delete=models.PROTECT, related_name="events")
    look = models.PositiveIntegerField()
    action = models.CharField(max_length=40)
    message = models.TextField()
    evaluation = models.JSONField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "monitoring_events"
        ordering = ("recorded", "pk")
        constraints = (
            models.UniqueConstraint(
                fields=["plan", "look", "action"], name="monitoring_event_once_per_crossing"
            ),
        )

    def __str__(self) -> str:
        return f"{self.plan} look {self.look}: {self.action}"


class AccessChange(models.Model):
    """A change of who may do what: an account created, a role, sites or all-sites changed, an
    API token created or revoked, a site added. Written once, never changed (append-only like the
    history tables, migration ``0006``); read by the audit log beside the record history.

    ``user`` is the acting user (None: the command line). ``table`` names what changed as the
    audit filter knows it (``profiles``, ``sites``, ``api_tokens``); ``changes`` lists
    ``{"field", "before", "after"}``.
    """

    recorded = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    table = models.CharField(max_length=40)
    subject = models.CharField(max_length=200)
    action = models.CharField(max_length=20)
    changes = models.JSONField(default=list)
    reason = models.TextField(blank=True)

    class Meta:
        db_table = "access_changes"
        ordering = ("recorded", "pk")

    def __str__(self) -> str:
        return f"{self.table} {self.subject}: {self.action}"


class Alert(models.Model):
    """An alert raised by a value that met an alert rule (:mod:`bvall.criteria.alerts`).

    Identified stably by the patient and ``key`` (the rule, the term, the day and time, and the
    value as entered), it is raised in the transaction of the save that produced the value and is
    never deleted. When a later save means the value no longer meets the rule (a correction, a
    deletion), ``met`` becomes false with the time and the reason; the history table
    (append-only, migration ``0008``) keeps every state. It stays open until acknowledged
    (:class:`AlertAcknowledgement`).
    """

    #: not a foreign key: an alert outlives the records (and the patient) that raised it
    patient_id = models.CharField(max_length=40, db_index=True)
    key = models.CharField(max_length=400)
    rule_id = models.CharField(max_length=100)
    rule_version = models.CharField(max_length=40)
    rule_source = models.TextField()
    grade_rule_id = models.CharField(max_length=200)
    grade_rule_version = models.CharField(max_length=100)
    term = models.CharField(max_length=200)
    test = models.CharField(max_length=40)
    day = models.IntegerField(null=True, blank=True)
    time = models.CharField(max_length=5, blank=True)
    grade = models.PositiveSmallIntegerField()
    text = models.TextField()
    explanation = models.TextField()
    source_table = models.CharField(max_length=40, default="labs")
    source_record = models.BigIntegerField(null=True, blank=True)
    raised = models.DateTimeField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    met = models.BooleanField(default=True, help_text="The value still meets the rule.")
    met_changed = models.DateTimeField(null=True, blank=True)
    met_note = models.TextField(blank=True)
    history = HistoricalRecords(table_name="alerts_history")

    class Meta:
        db_table = "alerts"
        ordering = ("patient_id", "day", "pk")
        constraints = (
            models.UniqueConstraint(fields=["patient_id", "key"], name="alert_once_per_value"),
        )

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.text}"


class AlertAcknowledgement(models.Model):
    """A clinician's acknowledgement of an alert (who, when, an optional note): it closes the
    alert. Append-only (migration ``0008``): written once, never changed or removed."""

    alert = models.OneToOneField(Alert, on_delete=models.PROTECT, related_name="acknowledgement")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    acknowledged = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)

    class Meta:
        db_table = "alert_acknowledgements"
        ordering = ("acknowledged", "pk")

    def __str__(self) -> str:
        return f"{self.alert} acknowledged by {self.user}"


class RenderedPage(models.Model):
    """A patient page's body as rendered, kept under a digest of everything it was rendered from
    (:mod:`bvall.web.rendered`): the patient's data token, the state of the patient's alerts,
    the viewer's permissions, the day and the code. Not study data: derived from it, written by
    any page that renders the body, read by every worker, replaced when the data change; it has
    no history and may be emptied at any time."""

    key = models.CharField(max_length=64, primary_key=True)
    patient_id = models.CharField(max_length=40, db_index=True)
    #: the digest without the viewer's permissions: rows of other data are removed
    data_key = models.CharField(max_length=64)
    html = models.TextField()
    made = models.DateTimeField()

    class Meta:
        db_table = "rendered_pages"

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.key[:12]}"


class DerivedResult(models.Model):
    """A criteria plan's result for a small cohort (a patient), kept by content for every worker
    (:mod:`bvall.web.results`): the key is a digest of the plan's SQL, of the cohort tables it
    reads and of bvall's and DuckDB's versions; the table is Arrow IPC. Not study data: no
    history, removed after a day, may be emptied at any time."""

    key = models.CharField(max_length=64, primary_key=True)
    data = models.BinaryField()
    made = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "derived_results"

    def __str__(self) -> str:
        return self.key[:12]
