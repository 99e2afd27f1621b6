"""``python -m serving [--pipeline personalize] [--host 127.0.0.1] [--port 8000]``: the recommendation API."""

from __future__ import annotations

import argparse

import uvicorn

from personalize_pipeline.config import DEFAULT_PIPELINE
from serving.app import create_app
from serving.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE, help="include/pipelines/<name>.yaml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--database-url", help="the cache database (default: $SERVING_DATABASE_URL)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(args.pipeline, args.database_url)
    # uvloop and httptools (both pinned): the C event loop and HTTP parser, named so that a missing
    # one fails at start-up instead of uvicorn silently falling back to the pure-Python ones
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
