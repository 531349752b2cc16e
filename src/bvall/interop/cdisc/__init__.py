"""CDISC SDTM (SDTMIG 3.4) and ADaM (ADaMIG 1.3) out of any cohort: SAS XPORT v5, Dataset-JSON
v1.1 and define.xml 2.1, the variables described as data (``data/``) with their origins and the
bvall rules that derive them. See docs/cdisc.md.

>>> from bvall.cohort import load_cohort
>>> export_cdisc(load_cohort("example"), Path("out"))            # doctest: +SKIP
"""

from bvall.interop.cdisc.export import (
    FORMATS,
    CdiscExport,
    build_datasets,
    check_formats,
    export_cdisc,
    render_cdisc_zip,
)
from bvall.interop.cdisc.spec import DatasetSpec, Variable, load_spec, load_terminology

__all__ = [
    "FORMATS",
    "CdiscExport",
    "DatasetSpec",
    "Variable",
    "build_datasets",
    "check_formats",
    "export_cdisc",
    "load_spec",
    "load_terminology",
    "render_cdisc_zip",
]
