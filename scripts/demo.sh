#!/usr/bin/env bash
# The main job, end to end on this machine: demo data, local AWS endpoint, the DAG, a summary.
# Options are passed on: --size {tiny,demo,store}; --aws to use a real account's aws_default connection.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec python -m devenv.demo "$@"
