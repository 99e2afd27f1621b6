"""``python -m local_aws``: serve moto's S3 and the local Personalize service on one port.

Environment:
  LOCAL_PERSONALIZE_STEP_SECONDS  pause between status steps (default 1.0)
  LOCAL_AWS_ACCOUNT_ID            account id in ARNs (default 123456789012)
  LOCAL_PERSONALIZE_WORKERS       parallel imports/trainings/batch jobs (default: CPU count)
  LOCAL_PERSONALIZE_TRAIN_THREADS threads for ALS training (default: CPU count)
  LOCAL_PERSONALIZE_EXCLUDE_SEEN  true: leave a user's own items out of recommendations, as the
                                  local service used to (default false, like the real service)
  LOCAL_AWS_S3_ENDPOINT_URL       S3 endpoint the service reads/writes (default: this server)
  LOCAL_PERSONALIZE_QUOTA_<NAME>  a raised adjustable quota: DATASET_GROUPS, BATCH_INFERENCE_JOBS,
                                  TRAININGS (defaults: the guide's 5, 5, 20)
"""

from __future__ import annotations

import os

# BLAS threads fight implicit's own threads; must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

from .personalize.quotas import Quotas  # noqa: E402
from .personalize.service import PersonalizeService  # noqa: E402
from .s3_store import PersistentS3  # noqa: E402
from .server import Router  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument("--data-dir", default=".local/aws", help="state, data, models, S3")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # S3 objects live in moto's memory and, written through, under <data dir>/s3 (see s3_store).
    s3 = PersistentS3(DomainDispatcherApplication(create_backend_app), Path(args.data_dir) / "s3")
    restored = s3.restore()
    # Bind first (to learn the real port), then build the service that calls S3 on it.
    router = Router(personalize_app=None, other_app=s3)
    server = make_server(args.host, args.port, router, threaded=True, request_handler=MotoRequestHandler)
    host, port = server.server_address[:2]
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{url_host}:{port}"
    service = PersonalizeService(
        data_dir=Path(args.data_dir),
        s3_endpoint=os.environ.get("LOCAL_AWS_S3_ENDPOINT_URL", url),
        account=os.environ.get("LOCAL_AWS_ACCOUNT_ID", "123456789012"),
        step_seconds=float(os.environ.get("LOCAL_PERSONALIZE_STEP_SECONDS", "1.0")),
        workers=int(os.environ.get("LOCAL_PERSONALIZE_WORKERS", os.cpu_count() or 2)),
        quotas=Quotas.from_env(os.environ),
    )
    router.personalize_app = service.app()
    service.resume()

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logging.getLogger("local_aws").info("S3: %d objects restored from %s", restored, s3.root)
    print(f"local_aws ready on {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.shutdown()
        # State is saved on every change; don't wait for a training or batch job to finish.
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
