"""``python -m bvall``: the ``bvall`` command. Also the driver file ``spark-submit`` runs
(it needs a ``.py`` file; see docs/criteria.md, "On Apache Spark")."""

from bvall.cli import main

if __name__ == "__main__":
    main()
