"""A Personalize-compatible service: control plane, runtime, events, batch jobs.

Modules stay small and apart: ``protocol`` speaks the wire formats, ``state``
owns resources, ``jobs`` runs the asynchronous status chains, ``training`` and
``batch`` do the real work.
"""
