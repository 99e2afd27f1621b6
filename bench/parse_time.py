"""
How long a pipeline's DAG file takes to parse with several pipelines configured.

    python -m bench.parse_time --pipelines 5

Writes N pipelines (copies of include/pipelines/personalize.yaml with their own dataset group,
prefix, cache schema and tracker) and their DAG files to a scratch folder, then measures each
DAG file two ways, each in a fresh interpreter that has already imported what Airflow's DAG
processor has when it starts on a file: ``airflow.dag_processing.processor``, and the airflow.*
modules the file names, which the processor imports before it forks the parsing child
(``parsing_pre_import_modules``). The project's own modules are imported inside the timing:

* ``runpy``: wall time of executing the file, repeated; the fastest and the median count;
* ``DagBag``: the parse duration Airflow itself records for the file (``dagbag_stats``), and
  beside it the time Airflow then spends serializing the file's DAGs (its own work, outside the
  parse, and the same for any layout of the same tasks).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

_PRELUDE = """
import importlib, json, sys, time, airflow.sdk, airflow.dag_processing.processor, runpy
from pathlib import Path
from airflow.utils.file import iter_airflow_imports
for folder in sys.argv[1:]:
    for path in [folder] if folder.endswith(".py") else __import__("glob").glob(folder + "/*.py"):
        for module in iter_airflow_imports(path):
            importlib.import_module(module)
"""
_RUNPY = (
    _PRELUDE
    + """
started = time.perf_counter()
dags = runpy.run_path(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started,
                  "dags": sum(type(v).__name__ == "DAG" for v in dags.values())}))
"""
)
_DAGBAG = (
    _PRELUDE
    + """
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import LazyDeserializedDAG
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
serialize = {}
for dag in bag.dags.values():
    started = time.perf_counter()
    LazyDeserializedDAG.from_dag(dag)
    serialize[dag.fileloc] = serialize.get(dag.fileloc, 0.0) + time.perf_counter() - started
print(json.dumps([{"file": s.file, "seconds": s.duration.total_seconds(), "dags": s.dag_num,
                   "serialize": serialize[str(Path(sys.argv[1]) / Path(s.file).name)]}
                  for s in bag.dagbag_stats]))
"""
)


def write_pipelines(count: int, folder: Path) -> tuple[Path, Path]:
    base = yaml.safe_load((ROOT / "include" / "pipelines" / "personalize.yaml").read_text())
    configs, dags = folder / "pipelines", folder / "dags"
    configs.mkdir()
    dags.mkdir()
    for index in range(count):
        name = f"site_{index}"
        raw = {
            **base,
            "dataset_group": f"site-{index}",
            "cache_schema": f"site_{index}_cache",
            "s3": {**base["s3"], "prefix": f"sites/{name}"},
            "event_sync": {**base["event_sync"], "tracker_name": f"site-{index}-events"},
        }
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        (dags / f"{name}.py").write_text((ROOT / "dags" / "personalize.py").read_text())
    return configs, dags


def _run(code: str, arg: str, env: dict) -> object:
    result = subprocess.run(
        [sys.executable, "-c", code, arg], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipelines", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        configs, dags = write_pipelines(args.pipelines, Path(tmp))
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}",
            "AIRFLOW_HOME": str(Path(tmp) / "airflow"),
            "PERSONALIZE_PIPELINES_DIR": str(configs),
            "OPENBLAS_NUM_THREADS": "1",
        }
        print(f"{args.pipelines} pipelines, one DAG file each; {args.repeat} fresh interpreters per file")
        print(f"{'file':<14} {'DAGs':>4} {'runpy min':>10} {'median':>8} {'max':>8}")
        worst = 0.0
        for dag_file in sorted(dags.glob("*.py")):
            runs = [_run(_RUNPY, str(dag_file), env) for _ in range(args.repeat)]
            times = [r["seconds"] for r in runs]
            worst = max(worst, statistics.median(times))
            print(
                f"{dag_file.name:<14} {runs[0]['dags']:>4} {min(times):>9.3f}s "
                f"{statistics.median(times):>7.3f}s {max(times):>7.3f}s"
            )
        print(f"worst median: {worst:.3f} s per DAG file")
        stats = _run(_DAGBAG, str(dags), env)
        print("Airflow's own parse durations (one DagBag; the first file pays the shared imports):")
        for stat in sorted(stats, key=lambda s: s["file"]):
            print(
                f"  {Path(stat['file']).name:<14} {stat['dags']:>2} DAGs parse {stat['seconds']:.3f}s, "
                f"then serialization {stat['serialize']:.3f}s"
            )


if __name__ == "__main__":
    main()
