"""Sub-commands of the ``gandiag`` CLI, one module each (discovered by :mod:`gandiag.cli`)."""
