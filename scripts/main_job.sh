#!/usr/bin/env bash
# The main job: data check -> train (NER + roles) -> report (evaluation, seeds, plots, model card).
# Usage: scripts/main_job.sh CONFIG RUN_NAME [extra --section.key value overrides for training]
# CONFIG: a packaged config name (default, quick, continue, ...) or a YAML path.
set -euo pipefail
config=${1:-default}
run=${2:-default}
shift 2 || true
bin=${DIPLOMAT_IE_BIN:-.venv/bin/diplomat-ie}
py=$(dirname "$bin")/python
# the library's lookup: $DIPLOMAT_IE_DATA, else ./data once it holds a corpus, else ../shared/datasets
root=$("$py" -c "from diplomat_ie.utils import data_root; print(data_root())")
if [ ! -d "$root/nerel/train" ]; then
  echo "NEREL not found under $root: downloading it into ${DIPLOMAT_IE_DATA:-data} (needs internet)"
  "$py" scripts/download_data.py
fi
# shellcheck source=scripts/allocator.sh
source "$(dirname "$0")/allocator.sh"
alloc=$(diplomat_allocator)
if [ -n "$alloc" ]; then
  export LD_PRELOAD="$alloc"
  echo "training with tcmalloc ($alloc); DIPLOMAT_IE_ALLOCATOR=system keeps glibc malloc"
fi
# DIPLOMAT_IE_PROCESSES=N trains in N gloo processes on this machine (torchrun), each with 1/N of the
# cores and 1/N of the configured batch, so a step still consumes training.batch_size windows
procs=${DIPLOMAT_IE_PROCESSES:-1}
train=("$bin" train)
if [ "$procs" != 1 ]; then
  per=$("$py" -m diplomat_ie.training.launch per-process-batch --config "$config" --processes "$procs" -- "$@") || exit 2
  train=("$py" -m torch.distributed.run --standalone --nproc_per_node "$procs" -m diplomat_ie.cli train)
  set -- "$@" --training.batch_size "$per"
  echo "training in $procs processes, $per windows per process and step"
fi
start=$(date +%s)
"${train[@]}" --config "$config" --name "$run" "$@"
max_docs=()
if [ "$run" = "quick" ]; then max_docs=(--max-docs 20); fi
"$bin" report --model "models/$run" --output "reports/$run" --run-dir "runs/$run" "${max_docs[@]}"
end=$(date +%s)
echo "main job finished in $((end - start)) s: model in models/$run, report in reports/$run/report.md"
