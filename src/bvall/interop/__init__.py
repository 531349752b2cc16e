"""Data in and out at the edges: CDISC SDTM/ADaM out (:mod:`bvall.interop.cdisc`)."""
