"""Design files: a documented, versioned JSON format that live monitoring reads back.

Layout (``format_version`` 1; documented in ``docs/design.md``)::

    {
      "format": "bvall-design",
      "format_version": 1,
      "type": "simon" | "bop2" | "toxicity_monitor",
      "created_by": "bvall 0.1.0",
      "title": "...",                  # optional, free text
      "parameters": {...},             # everything needed to rebuild the design
      "boundaries": [...],             # the DSMB table (rows per look), for people and diffing
      "operating_characteristics": [...]
    }

Reading validates the layout and every parameter, rebuilds the design from ``parameters`` and
checks that the rebuilt boundary table equals the stored one: a design file whose table was
edited by hand, or that an incompatible bvall version computes differently, is rejected rather
than monitored with silently different boundaries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bvall import __version__
from bvall.design.bop2 import Bop2Design, CalibrationGrid, make_bop2_design
from bvall.design.decision import Design
from bvall.design.monitor import ToxicityMonitor, make_toxicity_monitor
from bvall.design.priors import BetaPrior, DirichletPrior
from bvall.design.simon import SimonDesign, make_simon_design
from bvall.errors import InputError, SpecError

FORMAT = "bvall-design"
FORMAT_VERSION = 1
TYPES = ("simon", "bop2", "toxicity_monitor")


def _beta(p: BetaPrior | None) -> dict[str, Any] | None:
    return None if p is None else {"a": p.a, "b": p.b, "label": p.label, "ess": p.ess}


def design_to_document(design: Design, title: str | None = None) -> dict[str, Any]:
    """The JSON-ready document of a design (see the module docstring for the layout)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_by": f"bvall {__version__}",
        "title": title,
    }
    if isinstance(design, SimonDesign):
        d = design.to_dict()
        doc["type"] = "simon"
        doc["parameters"] = {
            k: d[k] for k in ("type", "r1", "n1", "r", "n", "p0", "p1", "alpha", "power")
        }
        doc["parameters"]["kind"] = doc["parameters"].pop("type")
        doc["boundaries"] = [
            {"look": 1, "patients": design.n1, "stop_if_responses_at_most": design.r1},
            {"look": 2, "patients": design.n, "promising_if_responses_above": design.r},
        ]
        doc["operating_characteristics"] = [
            {k: d[k] for k in ("attained_alpha", "attained_power", "pet0", "en0", "pet1", "en1")}
        ]
    elif isinstance(design, Bop2Design):
        doc["type"] = "bop2"
        doc["parameters"] = {
            "endpoint": design.endpoint,
            "looks": list(design.looks),
            "phi_efficacy": design.phi_efficacy,
            "alternative_efficacy": design.alternative_efficacy,
            "phi_toxicity": design.phi_toxicity,
            "alternative_toxicity": design.alternative_toxicity,
            "null_both": _scenario_both(design, 0),
            "alternative_both": design.alternative.p_both,
            "alpha": design.alpha,
            "lambda": design.lam,
            "gamma": design.gamma,
            "type1_control": design.type1_control,
            "prior_efficacy": _beta(design.prior_efficacy),
            "prior_toxicity": _beta(design.prior_toxicity),
            "prior_joint": None if design.prior_joint is None else design.prior_joint.to_dict(),
            "grid": vars(design.grid),
        }
        doc["boundaries"] = design.boundary_rows()
        doc["operating_characteristics"] = [oc.to_dict() for oc in design.characteristics]
    elif isinstance(design, ToxicityMonitor):
        doc["type"] = "toxicity_monitor"
        doc["parameters"] = {
            "limit": design.limit,
            "threshold": design.threshold,
            "looks": list(design.looks),
            "prior": _beta(design.prior),
            "rates": [oc.scenario.p_toxicity for oc in design.characteristics],
        }
        doc["boundaries"] = design.boundary_rows()
        doc["operating_characteristics"] = [oc.to_dict() for oc in design.characteristics]
    else:
        raise InputError(f"{type(design).__name__} cannot be saved as a design file.")
    return doc


def _scenario_both(design: Bop2Design, i: int) -> float | None:
    return design.null_scenarios[i].p_both if design.endpoint == "efficacy_toxicity" else None


def write_design(
    design: Design,
    path: Path,
    title: str | None = None,
    monitoring: dict[str, Any] | None = None,
) -> Path:
    """Write ``design`` as a design file (UTF-8 JSON); returns the path. ``monitoring`` names
    what live monitoring reads (outcome definitions of the criteria engine and the toxicity
    window; checked by the store when the plan is registered)."""
    doc = design_to_document(design, title)
    if monitoring is not None:
        doc["monitoring"] = dict(monitoring)
    path = Path(path)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _need(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise SpecError(f"{where}: missing '{key}'.")
    return obj[key]


def _prior(raw: Any, where: str) -> BetaPrior | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected an object with a and b, got {raw!r}.")
    try:
        return BetaPrior(float(raw["a"]), float(raw["b"]), str(raw.get("label", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{where}: {raw!r} is not a Beta prior ({exc}).") from exc


def design_from_document(doc: Any, source: str = "design file") -> Design:
    """Validate a design document and rebuild the design; see :func:`read_design`."""
    if not isinstance(doc, dict):
        raise SpecError(f"{source}: expected a JSON object, got {type(doc).__name__}.")
    if doc.get("format") != FORMAT:
        raise SpecError(f"{source}: format={doc.get('format')!r}; expected {FORMAT!r}.")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise SpecError(
            f"{source}: format_version={version!r} is not supported; this bvall reads "
            f"version {FORMAT_VERSION}."
        )
    kind = _need(doc, "type", source)
    if kind not in TYPES:
        raise SpecError(f"{source}: type={kind!r}; expected one of {', '.join(TYPES)}.")
    p = _need(doc, "parameters", source)
    if not isinstance(p, dict):
        raise SpecError(f"{source}: parameters must be an object.")
    where = f"{source} parameters"
    try:
        design: Design
        if kind == "simon":
            design = make_simon_design(
                *(int(_need(p, k, where)) for k in ("r1", "n1", "r", "n")),
                *(float(_need(p, k, where)) for k in ("p0", "p1", "alpha", "power")),
            )
            design = SimonDesign(**{**design.__dict__, "kind": p.get("kind", "custom")})
        elif kind == "bop2":
            joint = p.get("prior_joint")
            design = make_bop2_design(
                looks=tuple(int(v) for v in _need(p, "looks", where)),
                phi_efficacy=float(_need(p, "phi_efficacy", where)),
                alternative_efficacy=float(_need(p, "alternative_efficacy", where)),
                alpha=float(_need(p, "alpha", where)),
                lam=float(_need(p, "lambda", where)),
                gamma=float(_need(p, "gamma", where)),
                phi_toxicity=_opt_float(p.get("phi_toxicity")),
                alternative_toxicity=_opt_float(p.get("alternative_toxicity")),
                null_both=_opt_float(p.get("null_both")),
                alternative_both=_opt_float(p.get("alternative_both")),
                prior_efficacy=_prior(p.get("prior_efficacy"), f"{where} prior_efficacy"),
                prior_toxicity=_prior(p.get("prior_toxicity"), f"{where} prior_toxicity"),
                prior_joint=None if joint is None else _dirichlet(joint, f"{where} prior_joint"),
                type1_control=p.get("type1_control", "futile_and_toxic"),
                grid=CalibrationGrid(**p["grid"]) if p.get("grid") else None,
            )
        else:
            looks = [int(v) for v in _need(p, "looks", where)]
            design = make_toxicity_monitor(
                limit=float(_need(p, "limit", where)),
                threshold=float(_need(p, "threshold", where)),
                n_max=looks[-1],
                prior=_prior(p.get("prior"), f"{where} prior"),
                first_look=looks[0],
                every=looks[1] - looks[0] if len(looks) > 1 else 1,
                rates=[float(r) for r in p.get("rates") or []] or None,
            )
            if list(design.looks) != looks:
                raise SpecError(
                    f"{where}: looks {looks} are not evenly spaced as bvall writes them."
                )
    except SpecError:
        raise
    except InputError as exc:
        raise SpecError(f"{source}: {exc}") from exc
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise SpecError(f"{source}: malformed parameters ({exc!r}).") from exc
    stored = doc.get("boundaries")
    rebuilt = design_to_document(design)["boundaries"]
    if stored is not None and _strip(stored) != _strip(rebuilt):
        raise SpecError(
            f"{source}: the stored boundary table differs from the one its parameters give; "
            "the file was edited or written by an incompatible version. Recompute the design "
            "rather than monitor with an unverified table."
        )
    return design


def _strip(rows: Any) -> Any:
    """Boundary rows with floats rounded, so a JSON round trip compares equal."""
    if isinstance(rows, list):
        return [_strip(r) for r in rows]
    if isinstance(rows, dict):
        return {k: _strip(v) for k, v in rows.items()}
    if isinstance(rows, float):
        return round(rows, 10)
    return rows


def _dirichlet(raw: Any, where: str) -> DirichletPrior:
    try:
        c = [float(v) for v in raw["cells"]]
        if len(c) != 4:
            raise ValueError(f"{len(c)} cells")
        return DirichletPrior((c[0], c[1], c[2], c[3]), str(raw.get("label", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{where}: {raw!r} is not a 4-cell Dirichlet prior ({exc}).") from exc


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def read_design(path: Path) -> Design:
    """Read and validate a design file written by :func:`write_design`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read design file {str(path)!r}: {exc.strerror}.") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
    return design_from_document(doc, str(path))
