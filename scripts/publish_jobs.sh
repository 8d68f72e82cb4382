#!/usr/bin/env bash
# Publish finished `standard` jobs of a run folder into results/standard/runs/NAME, checked, and refresh what
# quotes them: the report and the generated blocks of README.md, docs/findings.md and docs/performance.md.
#
#   bash scripts/publish_jobs.sh RUN_DIR NAME DATA_ROOT egraffbench-run-options...
#   bash scripts/publish_jobs.sh /work/runs/standard-lips20 lips20-h ../shared/datasets \
#       --task lips20-unseen-composition --models allegro
#
# 1. `egraffbench run --mode standard OPTIONS --out RUN_DIR` over the finished jobs: every stage is reused, and
#    the new run holds exactly those jobs (other invocations may go on in RUN_DIR meanwhile).
# 2. scripts/check_reproduction.py --run ID --training --evaluation, in a fresh interpreter: every stage the
#    run used must give the same bits again; the script stops here otherwise.
# 3. `egraffbench publish RUN_DIR --run ID --out results/standard/runs/NAME`.
# 4. `egraffbench report results/standard/runs/*` and scripts/sync_published_docs.py.
# The hand-written prose around the generated blocks (results/standard/README.md's run table and status,
# docs/findings.md's introduction) is left to the person publishing.
set -euo pipefail
if (($# < 4)); then
  echo "usage: bash scripts/publish_jobs.sh RUN_DIR NAME DATA_ROOT egraffbench-run-options..." >&2
  exit 2
fi
run_dir=$1 name=$2 data_root=$3
shift 3
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# the summary line with the run id is on stderr, with the progress
COLUMNS=10000 egraffbench run --mode standard "$@" --out "$run_dir" --data-root "$data_root" 2>&1 | tee "$log"
run_id=$( (grep -o '(run [0-9a-f-]*)' "$log" || true) | tail -n 1 | tr -d '()' | cut -d' ' -f2)
if [[ -z $run_id ]]; then
  echo "publish_jobs: no run id in egraffbench run's output" >&2
  exit 1
fi
python scripts/check_reproduction.py "$run_dir" --run "$run_id" --training --evaluation --data-root "$data_root"
egraffbench publish "$run_dir" --run "$run_id" --out "results/standard/runs/$name"
# The glob is expanded after publishing, so the new folder is in it.
egraffbench report results/standard/runs/* --out results/standard/report
python scripts/sync_published_docs.py
echo "published run $run_id as results/standard/runs/$name"
