"""define.xml 2.1: the metadata of an export, from the specification in ``data/``.

An ODM 1.3.2 document with the Define-XML 2.1 extensions (namespace
``http://www.cdisc.org/ns/def/v2.1``): one ItemGroupDef per dataset (with its def:leaf file),
one ItemDef per variable with its def:Origin, and for every derived variable a MethodDef naming
the bvall criteria file(s) that derive it with their version (``bvall/criteria/data/<file>.toml``)
and the per-record rule id variable (``RULEID``/``AERULE``) where one exists. A synthetic cohort
is said to be synthetic in the study description and in every dataset's description.

Written with the standard library (xml.etree); not validated against the CDISC schema here (the
schema files are not redistributable in the package): docs/cdisc.md says how to check it.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

import bvall
from bvall.criteria.rules import load_rule_file
from bvall.interop.cdisc.spec import DatasetSpec, Variable, load_terminology, spec_version

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", ODM)
ET.register_namespace("def", DEF)
ET.register_namespace("xlink", XLINK)

_DATA_TYPES = {
    "text": "text",
    "datetime": "datetime",
    "integer": "integer",
    "float": "float",
    "date": "integer",
}


def _o(tag: str) -> str:
    return f"{{{ODM}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DEF}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    tt = ET.SubElement(
        el, _o("TranslatedText"), {"{http://www.w3.org/XML/1998/namespace}lang": "en"}
    )
    tt.text = text
    return el


def describe_rules(var: Variable) -> str:
    """The derivation of ``var`` with the version of every bvall criteria file behind it."""
    files = [f"{r} version {load_rule_file(r).version}" for r in var.rules]
    text = f"{var.source}."
    if files:
        text += f" Derived by the bvall criteria engine from {', '.join(files)}"
        text += " (bvall/criteria/data/<file>.toml); the rule id of each record is in RULEID"
        text += " (ADaM) or SUPPAE.AERULE."
    return text


def compute_codelists(
    specs: list[DatasetSpec], datasets: dict[str, pd.DataFrame]
) -> dict[str, dict[str, str]]:
    """Per code list of the specification, the values written (sorted) with their decode
    (``""`` when the code list has no decode variable)."""
    out: dict[str, dict[str, str]] = {}
    for spec in specs:
        frame = datasets[spec.name]
        for var in spec.variables:
            if not var.codelist_id:
                continue
            values = out.setdefault(var.codelist_id, {})
            decodes = frame[var.decode] if var.decode else [""] * len(frame)
            for value, decode in zip(frame[var.name], decodes, strict=True):
                if value != "":
                    values.setdefault(str(value), str(decode))
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def render_define(
    specs: list[DatasetSpec],
    *,
    study_id: str,
    cohort_name: str,
    synthetic: bool,
    created: dt.datetime,
    files: dict[str, str],
    lengths: dict[str, dict[str, int]],
    codelists: dict[str, dict[str, str]],
) -> ET.ElementTree:
    """define.xml for ``specs`` (``files``: dataset name -> file name of its def:leaf;
    ``lengths``: dataset -> text variable -> longest value written)."""
    mark = " SYNTHETIC DATA: not real patients." if synthetic else ""
    root = ET.Element(
        _o("ODM"),
        {
            "FileType": "Snapshot",
            "FileOID": f"bvall.define.{study_id}",
            "ODMVersion": "1.3.2",
            "CreationDateTime": created.replace(microsecond=0).isoformat(),
            "Originator": "bvall",
            "SourceSystem": "bvall",
            "SourceSystemVersion": bvall.__version__,
            _d("Context"): "Other",
        },
    )
    study = ET.SubElement(root, _o("Study"), {"OID": study_id})
    gv = ET.SubElement(study, _o("GlobalVariables"))
    ET.SubElement(gv, _o("StudyName")).text = study_id
    ET.SubElement(
        gv, _o("StudyDescription")
    ).text = f"Exported by bvall {bvall.__version__} from cohort {cohort_name!r}.{mark}"
    ET.SubElement(gv, _o("ProtocolName")).text = study_id
    mdv = ET.SubElement(
        study,
        _o("MetaDataVersion"),
        {
            "OID": f"MDV.{study_id}",
            "Name": f"bvall CDISC export specification {spec_version()}",
            _d("DefineVersion"): "2.1.0",
        },
    )
    standards = ET.SubElement(mdv, _d("Standards"))
    for oid, name, version in (("STD.SDTMIG", "SDTMIG", "3.4"), ("STD.ADAMIG", "ADaMIG", "1.3")):
        ET.SubElement(
            standards,
            _d("Standard"),
            {"OID": oid, "Name": name, "Type": "IG", "Version": version, "Status": "Final"},
        )
    methods: list[tuple[str, str]] = []
    items: list[tuple[str, Variable]] = []
    for spec in specs:
        purpose = "Analysis" if spec.is_adam else "Tabulation"
        ig = ET.SubElement(
            mdv,
            _o("ItemGroupDef"),
            {
                "OID": f"IG.{spec.name}",
                "Name": spec.name,
                "SASDatasetName": spec.name,
                "Repeating": "No" if spec.name in ("DM", "ADSL") else "Yes",
                "IsReferenceData": "No",
                "Purpose": purpose,
                _d("Structure"): spec.structure,
                _d("StandardOID"): "STD.ADAMIG" if spec.is_adam else "STD.SDTMIG",
                _d("ArchiveLocationID"): f"LF.{spec.name}",
                **({"Domain": spec.name} if not spec.is_adam else {}),
            },
        )
        _text(ig, _o("Description"), spec.label_for(synthetic) + mark)
        for order, var in enumerate(spec.variables, start=1):
            attrs = {
                "ItemOID": f"IT.{spec.name}.{var.name}",
                "OrderNumber": str(order),
                "Mandatory": "Yes" if var.name in spec.keys else "No",
            }
            if var.name in spec.keys:
                attrs["KeySequence"] = str(spec.keys.index(var.name) + 1)
            if var.origin == "Derived":
                attrs["MethodOID"] = f"MT.{spec.name}.{var.name}"
                methods.append((f"MT.{spec.name}.{var.name}", describe_rules(var)))
            ET.SubElement(ig, _o("ItemRef"), attrs)
        # Define-XML 2.1 gives the class as an element after the ItemRefs (2.0: an attribute)
        ET.SubElement(ig, _d("Class"), {"Name": spec.cls})
        leaf = ET.SubElement(
            ig, _d("leaf"), {"ID": f"LF.{spec.name}", f"{{{XLINK}}}href": files[spec.name]}
        )
        ET.SubElement(leaf, _d("title")).text = files[spec.name]
        items += [(spec.name, v) for v in spec.variables]
    for dataset, var in items:
        attrs = {
            "OID": f"IT.{dataset}.{var.name}",
            "Name": var.name,
            "SASFieldName": var.name,
            "DataType": _DATA_TYPES[var.type],
        }
        if var.type == "date":
            attrs[_d("DisplayFormat")] = "DATE9."
        if var.type in ("text", "datetime"):
            attrs["Length"] = str(max(1, lengths[dataset].get(var.name, 1)))
        else:  # SAS numerics are 8-byte floats
            attrs["Length"] = "8"
        item = ET.SubElement(mdv, _o("ItemDef"), attrs)
        _text(item, _o("Description"), var.label)
        if codelists.get(var.codelist_id):  # an empty code list is not valid ODM
            ET.SubElement(item, _o("CodeListRef"), {"CodeListOID": f"CL.{var.codelist_id}"})
        origin_attrs = {"Type": var.origin}
        if var.origin == "Collected":
            origin_attrs["Source"] = "Investigator"
        origin = ET.SubElement(item, _d("Origin"), origin_attrs)
        if var.origin in ("Collected", "Assigned", "Predecessor"):
            _text(origin, _o("Description"), var.source)
    nci = load_terminology()["cdisc_codelist"]
    for cl_id, values in codelists.items():
        if not values:
            continue
        name = cl_id if cl_id in nci else f"{cl_id} (sponsor-defined)"
        cl = ET.SubElement(
            mdv, _o("CodeList"), {"OID": f"CL.{cl_id}", "Name": name, "DataType": "text"}
        )
        for value, decode in values.items():
            if decode:
                entry = ET.SubElement(cl, _o("CodeListItem"), {"CodedValue": value})
                _text(entry, _o("Decode"), decode)
            else:
                ET.SubElement(cl, _o("EnumeratedItem"), {"CodedValue": value})
        if cl_id in nci:
            ET.SubElement(cl, _o("Alias"), {"Context": "nci:ExtCodeID", "Name": nci[cl_id]})
    for oid, text in methods:
        method = ET.SubElement(
            mdv,
            _o("MethodDef"),
            {"OID": oid, "Name": f"Algorithm {oid[3:]}", "Type": "Computation"},
        )
        _text(method, _o("Description"), text)
    ET.indent(root)
    return ET.ElementTree(root)


def write_define(tree: ET.ElementTree, path: Path) -> Path:
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path
