"""Data in and out at the edges: FHIR lab feeds, REDCap projects, CDISC submissions."""
