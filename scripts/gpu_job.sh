#!/usr/bin/env bash
# The full recipe on one CUDA GPU (bf16 autocast, more epochs) + the report, for an air-gapped node that
# has python3 with torch, transformers, accelerate (and pyyaml, tqdm, tensorboard, matplotlib, numpy,
# scikit-learn) but no package index and room for at most 64 MiB of files brought along.
#
#   bash scripts/gpu_job.sh prepare   # here, with PyPI and the corpora: writes the bundle (.gpu/)
#   bash scripts/gpu_job.sh run [--section.key value ...]   # on the GPU node, in the repo root
#
# The bundle (git-ignored, carried to the node): backbone/ = multilingual-e5-small trimmed to the pieces
# NEREL + factRuEval + the seed articles use, stored bf16 (training upcasts to fp32 master weights);
# wheels/ = the pure-Python dependencies the node lacks (razdel, seqeval), installed with --no-index;
# datasets.tgz = NEREL, factRuEval-2016 and the seed articles.
# The default config's navec word vectors (natasha's 26.6 MB table) do not fit in the bundle beside the
# rest, so the GPU run trains with model.word_vectors null (give --model.word_vectors PATH.tar to override),
# and without model.type_lexicon (pymorphy3's 16 MB dictionaries and the place-name packages are not on the node).
#
# Environment: GPU_JOB_BUNDLE (default .gpu), GPU_JOB_EPOCHS (default 12), GPU_JOB_NAME (default gpu),
# GPU_JOB_CPU=1 (allow a run without CUDA: the CPU test of this script), GPU_JOB_REPORT_ARGS (extra
# `diplomat-ie report` arguments), OUT (where the report is copied; default reports/$GPU_JOB_NAME).
# Outputs (models/, runs/, reports/) go under the current directory, normally the repo root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-run}
shift || true
bundle=${GPU_JOB_BUNDLE:-$repo/.gpu}
py=${PYTHON:-python3}
name=${GPU_JOB_NAME:-gpu}

prepare() {
  local data=${DIPLOMAT_IE_DATA:-../shared/datasets} seeds=${SEEDS:-../shared/seeds}
  local backbone=${BACKBONE:-models/backbones/multilingual-e5-small}
  mkdir -p "$bundle/wheels"
  PYTHONPATH="$repo/src" "$py" -m diplomat_ie.cli backbone trim --backbone "$backbone" --out "$bundle/backbone" \
    --keep corpus --dtype bfloat16 --data-root "$data" --text-dir "$seeds" --force >/dev/null
  "$py" -m pip download -q --no-deps --only-binary=:all: -d "$bundle/wheels" razdel==0.5.0
  "$py" -m pip wheel -q --no-deps -w "$bundle/wheels" seqeval==1.2.2  # PyPI has only its sdist
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/datasets"
  cp -r "$data/nerel" "$data/factrueval-2016" "$stage/datasets/"
  cp -r "$seeds" "$stage/seeds"
  tar czf "$bundle/datasets.tgz" -C "$stage" datasets seeds
  rm -rf "$stage"
  local bytes tree
  bytes=$(du -sb "$bundle" | cut -f1)
  tree=$(cd "$repo" && git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  echo "bundle $bundle: $bytes bytes; tracked tree: $tree bytes; together $((bytes + tree)) of 67108864"
  if [ $((bytes + tree)) -gt 67108864 ]; then echo "over the 64 MiB limit" >&2; exit 1; fi
}

run() {
  if [ "${GPU_JOB_CPU:-0}" != 1 ]; then
    "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device (GPU_JOB_CPU=1 runs on the CPU)')"
  fi
  local site=${TMPDIR:-/tmp}/diplomat-gpu-site
  if compgen -G "$bundle/wheels/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
      "$bundle"/wheels/*.whl
  fi
  export PYTHONPATH="$repo/src:$site${PYTHONPATH:+:$PYTHONPATH}"
  mkdir -p "$bundle/data"
  tar xzf "$bundle/datasets.tgz" -C "$bundle/data"
  export DIPLOMAT_IE_DATA="$bundle/data/datasets"
  local out=${OUT:-reports/$name} start
  start=$(date +%s)
  # bf16 auto = on for a bf16-capable GPU; the Trainer puts the model on CUDA by itself
  "$py" -m diplomat_ie.cli train --config default --name "$name" \
    --model.backbone "$bundle/backbone" --training.epochs "${GPU_JOB_EPOCHS:-12}" --training.bf16 auto \
    --training.output_dir "models/$name" --training.overwrite true --model.word_vectors null \
    --model.type_lexicon null "$@"
  local trained=$(($(date +%s) - start))
  # shellcheck disable=SC2086  # GPU_JOB_REPORT_ARGS is a list of words
  "$py" -m diplomat_ie.cli report --model "models/$name" --output "reports/$name" --run-dir "runs/$name" \
    --seeds "$bundle/data/seeds" --no-natasha ${GPU_JOB_REPORT_ARGS:-}
  mkdir -p "$out"
  cp "runs/$name/train_summary.json" "$out/"
  if [ "$(cd "$out" && pwd)" != "$(cd "reports/$name" && pwd)" ]; then
    cp "reports/$name/report.md" "reports/$name/metrics.json" "$out/"
  fi
  echo "gpu job: trained in ${trained} s, total $(($(date +%s) - start)) s; report in $out/report.md"
}

case "$mode" in
  prepare) prepare ;;
  run) run "$@" ;;
  *) echo "usage: $0 prepare | run [--section.key value ...]" >&2; exit 2 ;;
esac
