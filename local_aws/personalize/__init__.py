"""A Personalize-compatible service: control plane, runtime, events, batch jobs.

Modules import in one direction (``tests/local_aws/test_local_aws_layers.py``
keeps it so): ``service`` builds the WSGI app of ``protocol`` (the wire formats)
from ``handlers``; a handler runs ``checks`` on the request, changes ``state``
and starts a ``work`` body that ``jobs`` runs in the background; the bodies use
``imports``, ``training``, ``batch`` and ``segments``, which score with ``scoring``.
"""
