"""The export: every SDTM and ADaM dataset of a cohort, written as SAS XPORT v5 and/or
Dataset-JSON v1.1, with define.xml, into one folder (or a ZIP for the web).

:func:`build_datasets` builds the conformed frames (the criteria engine runs once per
derivation, shared by every dataset); :func:`export_cdisc` writes them.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bvall.cohort.model import Cohort
from bvall.criteria import CriteriaSettings
from bvall.errors import InputError
from bvall.interop.cdisc.adam_events import build_adae, build_adrs, build_adtte
from bvall.interop.cdisc.adam_subject import build_adlb, build_adsl
from bvall.interop.cdisc.dataset_json import render_dataset_json, write_dataset_json
from bvall.interop.cdisc.define import compute_codelists, render_define, write_define
from bvall.interop.cdisc.sdtm_events import build_ae, build_ds, build_rs
from bvall.interop.cdisc.sdtm_findings import build_cp, build_lb, build_vs
from bvall.interop.cdisc.sdtm_interventions import build_cm, build_dm, build_ex
from bvall.interop.cdisc.spec import conform_dataset, load_spec
from bvall.interop.cdisc.study import Study

#: Output formats: SAS XPORT v5 (.xpt) and CDISC Dataset-JSON v1.1 (.json).
FORMATS: tuple[str, ...] = ("xpt", "json")


@dataclass(frozen=True)
class CdiscExport:
    """What an export wrote: the conformed datasets by name and the files by path."""

    study_id: str
    synthetic: bool
    datasets: dict[str, pd.DataFrame]
    files: tuple[Path, ...]


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The formats asked for, each one of :data:`FORMATS`; an error names an unknown one."""
    out = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise InputError(
            f"Format {', '.join(bad) or '(none)'!r} is not known; choose from {', '.join(FORMATS)} "
            "(comma-separated, e.g. xpt,json)."
        )
    return out


def build_datasets(
    cohort: Cohort,
    study_id: str | None = None,
    settings: CriteriaSettings | None = None,
    *,
    ascii_only: bool = True,
) -> dict[str, pd.DataFrame]:
    """Every dataset of the specification, conformed, in writing order; ``ascii_only`` refuses
    non-ASCII text (needed for XPT v5; Dataset-JSON is UTF-8)."""
    study = Study(cohort, study_id or cohort.name.upper(), settings or CriteriaSettings())
    sdtm: dict[str, pd.DataFrame] = {
        "DM": build_dm(study),
        "EX": build_ex(study),
        "CM": build_cm(study),
        "LB": build_lb(study),
        "VS": build_vs(study),
        "CP": build_cp(study),
    }
    sdtm["AE"], sdtm["SUPPAE"] = build_ae(study)
    sdtm["RS"] = build_rs(study)
    sdtm["DS"] = build_ds(study)
    adsl = build_adsl(study, sdtm)
    built = {
        **sdtm,
        "ADSL": adsl,
        "ADLB": build_adlb(study),
        "ADAE": build_adae(study, sdtm, adsl),
        "ADRS": build_adrs(study),
        "ADTTE": build_adtte(study, adsl),
    }
    specs = load_spec()
    return {
        name: conform_dataset(specs[name], built[name], ascii_only=ascii_only) for name in specs
    }


def export_cdisc(
    cohort: Cohort,
    out_dir: Path,
    *,
    formats: Iterable[str] = FORMATS,
    study_id: str | None = None,
    created: dt.datetime | None = None,
    settings: CriteriaSettings | None = None,
) -> CdiscExport:
    """Write every dataset of ``cohort`` into ``out_dir`` (created if needed) as lower-case
    ``<name>.xpt`` / ``<name>.json``, and ``define.xml``. ``created`` stamps the files (default:
    now, UTC)."""
    chosen = check_formats(formats)
    study_id = study_id or cohort.name.upper()
    created = created or dt.datetime.now(dt.UTC)
    datasets = build_datasets(cohort, study_id, settings, ascii_only="xpt" in chosen)
    synthetic = bool(cohort.metadata.synthetic)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = load_spec()
    written: list[Path] = []
    for name, frame in datasets.items():
        spec = specs[name]
        if "xpt" in chosen:
            from bvall.interop.cdisc.xport import write_xpt  # pyreadstat loads only to write XPT

            written.append(
                write_xpt(spec, frame, out_dir / f"{name.lower()}.xpt", synthetic=synthetic)
            )
        if "json" in chosen:
            doc = render_dataset_json(
                spec, frame, study_id=study_id, created=created, synthetic=synthetic
            )
            written.append(write_dataset_json(doc, out_dir / f"{name.lower()}.json"))
    leaf = "xpt" if "xpt" in chosen else "json"
    lengths = {
        name: {v.name: int(frame[v.name].str.len().max() or 0) if len(frame) else 0
               for v in specs[name].variables if not v.numeric}
        for name, frame in datasets.items()
    }  # fmt: skip
    tree = render_define(
        list(specs.values()),
        study_id=study_id,
        cohort_name=cohort.name,
        synthetic=synthetic,
        created=created,
        files={name: f"{name.lower()}.{leaf}" for name in specs},
        lengths=lengths,
        codelists=compute_codelists(list(specs.values()), datasets),
    )
    written.append(write_define(tree, out_dir / "define.xml"))
    return CdiscExport(study_id, synthetic, datasets, tuple(written))


def render_cdisc_zip(
    cohort: Cohort, *, formats: Iterable[str] = FORMATS, study_id: str | None = None
) -> bytes:
    """The export as a ZIP archive in memory (for a download)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = export_cdisc(cohort, Path(tmp), formats=formats, study_id=study_id)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in result.files:
                zf.write(path, arcname=path.name)
    return buffer.getvalue()
