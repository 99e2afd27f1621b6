"""API operations, one module per area. A handler checks the request (``checks``), changes state
(``store``) and starts the job body (``work``) that does the background work.

Kept free of imports so that loading one handler module loads no other.
"""
