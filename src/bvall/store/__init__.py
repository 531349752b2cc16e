"""The study database: Django models of the cohort tables, audit trail, users and sites.

Public entry points (the only code outside the web layer that touches the ORM):

* :mod:`bvall.store.database` – configure Django for a database URL, create/upgrade it,
  back it up and restore it;
* :mod:`bvall.store.convert` – the one conversion between the database and a
  :class:`~bvall.cohort.Cohort` (load, import with validation, export);
* :mod:`bvall.store.records` – saving and deleting single records with validation, the required
  reason, optimistic concurrency and the audit trail;
* :mod:`bvall.store.access` – roles, sites and the querysets each user may see;
* :mod:`bvall.store.gate` – the write gate every write passes (role and site checks in one
  place; :func:`~bvall.store.gate.import_rows` for imports, ``bvall db load`` and feeds);
* :mod:`bvall.store.sites`, :mod:`bvall.store.accounts`, :mod:`bvall.store.tokens` – sites,
  accounts and API tokens, every change recorded by :mod:`bvall.store.access_changes`.

Import the submodules after :func:`bvall.store.database.setup` has configured Django.
"""
