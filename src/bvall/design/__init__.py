"""Phase II trial design and monitoring: Simon two-stage, BOP2, continuous toxicity monitoring.

Public API (see ``docs/design.md``):

* Simon: :func:`compute_simon_designs`, :func:`compute_simon_characteristics`,
  :func:`compute_simon_analysis` (final analysis: p-value, UMVUE, exact CI).
* BOP2: :func:`compute_bop2_design` (calibrated), :func:`make_bop2_design` (given lambda, gamma),
  :func:`compute_bop2_characteristics` (user scenarios, exact or simulated).
* Toxicity monitoring: :func:`make_toxicity_monitor`.
* Priors: :func:`vague_beta_prior`, :func:`informed_beta_prior`, :func:`vague_dirichlet_prior`,
  :func:`informed_dirichlet_prior`.
* Design files: :func:`write_design`, :func:`read_design`.
* Live monitoring: :func:`classify_trial` with :class:`PatientOutcome` / :class:`CountSnapshot`.
"""

from typing import TYPE_CHECKING

from bvall._exports import export_lazily

if TYPE_CHECKING:
    from bvall.design.bop2 import (
        Bop2Design,
        CalibrationGrid,
        compute_bop2_boundaries,
        compute_bop2_characteristics,
        compute_bop2_cutoff,
        compute_bop2_design,
        make_bop2_design,
    )
    from bvall.design.decision import CountSnapshot, PatientOutcome, TrialDecision, classify_trial
    from bvall.design.files import (
        design_from_document,
        design_to_document,
        read_design,
        write_design,
    )
    from bvall.design.monitor import (
        ToxicityMonitor,
        compute_monitor_boundaries,
        make_toxicity_monitor,
    )
    from bvall.design.priors import (
        BetaPrior,
        DirichletPrior,
        informed_beta_prior,
        informed_dirichlet_prior,
        load_published_counts,
        vague_beta_prior,
        vague_dirichlet_prior,
    )
    from bvall.design.sequential import (
        Boundaries,
        OperatingCharacteristics,
        Scenario,
        compute_exact_characteristics,
        simulate_characteristics,
    )
    from bvall.design.simon import (
        SimonCharacteristics,
        SimonDesign,
        compute_simon_characteristics,
        compute_simon_designs,
        make_simon_design,
    )
    from bvall.design.simon_inference import SimonAnalysis, compute_simon_analysis

# Each submodule is imported when one of its names is first used (bvall._exports).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "bvall.design.bop2": (
        "Bop2Design",
        "CalibrationGrid",
        "compute_bop2_boundaries",
        "compute_bop2_characteristics",
        "compute_bop2_cutoff",
        "compute_bop2_design",
        "make_bop2_design",
    ),
    "bvall.design.decision": (
        "CountSnapshot",
        "PatientOutcome",
        "TrialDecision",
        "classify_trial",
    ),
    "bvall.design.files": (
        "design_from_document",
        "design_to_document",
        "read_design",
        "write_design",
    ),
    "bvall.design.monitor": (
        "ToxicityMonitor",
        "compute_monitor_boundaries",
        "make_toxicity_monitor",
    ),
    "bvall.design.priors": (
        "BetaPrior",
        "DirichletPrior",
        "informed_beta_prior",
        "informed_dirichlet_prior",
        "load_published_counts",
        "vague_beta_prior",
        "vague_dirichlet_prior",
    ),
    "bvall.design.sequential": (
        "Boundaries",
        "OperatingCharacteristics",
        "Scenario",
        "compute_exact_characteristics",
        "simulate_characteristics",
    ),
    "bvall.design.simon": (
        "SimonCharacteristics",
        "SimonDesign",
        "compute_simon_characteristics",
        "compute_simon_designs",
        "make_simon_design",
    ),
    "bvall.design.simon_inference": (
        "SimonAnalysis",
        "compute_simon_analysis",
    ),
}
__getattr__, __dir__ = export_lazily(__name__, _EXPORTS)

__all__ = [
    "BetaPrior",
    "Bop2Design",
    "Boundaries",
    "CalibrationGrid",
    "CountSnapshot",
    "DirichletPrior",
    "OperatingCharacteristics",
    "PatientOutcome",
    "Scenario",
    "SimonAnalysis",
    "SimonCharacteristics",
    "SimonDesign",
    "ToxicityMonitor",
    "TrialDecision",
    "classify_trial",
    "compute_bop2_boundaries",
    "compute_bop2_characteristics",
    "compute_bop2_cutoff",
    "compute_bop2_design",
    "compute_exact_characteristics",
    "compute_monitor_boundaries",
    "compute_simon_analysis",
    "compute_simon_characteristics",
    "compute_simon_designs",
    "design_from_document",
    "design_to_document",
    "informed_beta_prior",
    "informed_dirichlet_prior",
    "load_published_counts",
    "make_bop2_design",
    "make_simon_design",
    "make_toxicity_monitor",
    "read_design",
    "simulate_characteristics",
    "vague_beta_prior",
    "vague_dirichlet_prior",
    "write_design",
]
