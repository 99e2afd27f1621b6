"""One WSGI app for the whole endpoint: route by the SigV4 credential scope's service.

``personalize`` (the signing name of all three Personalize clients) goes to our
service; everything else (S3 above all) to moto's server app, in-process.
"""

from __future__ import annotations

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from .personalize.protocol import credential_scope


class Router:
    def __init__(self, personalize_app, other_app=None):
        self.personalize_app = personalize_app
        self.other_app = other_app or DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ, start_response):
        _, service = credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
        if service == "personalize":
            return self.personalize_app(environ, start_response)
        return self.other_app(environ, start_response)
