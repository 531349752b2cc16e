"""REDCap's CDISC ODM XML export read with ``odmlib`` into the same rows as the flat CSV.

Each ``FormData`` (an instrument of a record at an event, ``FormRepeatKey`` its instance) becomes
one :class:`~bvall.interop.redcap.records.FlatRow`; its ``ItemData`` are the fields (checkboxes
as ``field___code``, as in the flat export).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import cast

import odmlib.loader as odm_loader
import odmlib.odm_loader as odm_xml
from odmlib.exceptions import OdmlibError
from odmlib.mode import ValidationMode, permissive

from bvall.cohort import Problem
from bvall.errors import ValidationFailed
from bvall.interop.redcap.records import FlatRow


def _strip(oid: str, prefix: str) -> str:
    return oid[len(prefix) :] if oid.startswith(prefix) else oid


def read_odm(path: Path) -> list[FlatRow]:
    """The records of a REDCap ODM 1.3 export (``ClinicalData``), one row per form instance."""
    label = path.name
    loader = odm_loader.ODMLoader(odm_xml.XMLODMLoader(model_package="odm_1_3_2"))
    try:
        # REDCap adds attributes in its own namespace (redcap:RecordIdField, ...); odmlib 0.2
        # strips the prefix and then refuses the unknown name unless type checks are relaxed.
        # Required attributes are still checked.
        with permissive(cast(ValidationMode, ValidationMode.SKIP_TYPE)):
            loader.open_odm_document(str(path))
            odm = loader.root()
    except (OdmlibError, ET.ParseError, OSError) as exc:
        bad = Problem(
            "records", None, None, str(path), f"a CDISC ODM 1.3 XML file ({exc})", "file", label
        )
        raise ValidationFailed([bad], label) from None
    clinical = odm.ClinicalData if isinstance(odm.ClinicalData, list) else [odm.ClinicalData]
    rows: list[FlatRow] = []
    for cd in clinical:
        for subject in cd.SubjectData:
            for event in subject.StudyEventData:
                for form in event.FormData:
                    values = {
                        str(item.ItemOID): str(item.Value or "")
                        for group in form.ItemGroupData
                        for item in group.ItemData
                    }
                    rows.append(
                        FlatRow(
                            line=len(rows) + 1,
                            record=str(subject.SubjectKey),
                            event=_strip(str(event.StudyEventOID), "Event."),
                            instrument=_strip(str(form.FormOID), "Form."),
                            instance=str(form.FormRepeatKey or "1"),
                            values=values,
                        )
                    )
    return rows
