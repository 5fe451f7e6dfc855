#!/usr/bin/env bash
# Copy what the ratio study has measured so far into the repository, so that no computed
# result is lost with the machine: the sweep database (read through sqlite's backup, a
# consistent copy while the sweep writes), every run's metrics.jsonl and config.yaml, and
# every readout's eval.json, for the sweep's runs, the matched-steps controls and the
# warm-start arm. Checkpoints stay in runs/ (3 MB each).
#   bash docs/results/ratio_study/snapshot.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${1:-runs}
OUT=docs/results/ratio_study/snapshot
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
.venv/bin/python - "$RUNS/ratio_study.db" "$OUT.tmp/ratio_study.db" <<'PY'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close(); src.close()
PY
copy_run() {  # copy_run RUN NAME: a run's log, config, readouts and finished marker
    local run=$1 name=$2
    [ -d "$run/train" ] || return 0
    mkdir -p "$OUT.tmp/$name"
    cp "$run/train/metrics.jsonl" "$run/train/config.yaml" "$OUT.tmp/$name/" 2>/dev/null || true
    [ -f "$run/readouts/eval.json" ] && cp "$run/readouts/eval.json" "$OUT.tmp/$name/readouts.json"
    for done in CONTROL_DONE ARM_DONE; do
        [ -f "$run/train/$done" ] && cp "$run/train/$done" "$OUT.tmp/$name/"
    done
    return 0
}
for run in "$RUNS"/rhm32_ratio_study/* "$RUNS"/ratio_study_controls/*; do
    copy_run "$run" "$(basename "$(dirname "$run")")/$(basename "$run")"
done
for run in "$RUNS"/ratio_study_arms/*/*/; do  # ARM/{warm,control}/
    run=${run%/}
    copy_run "$run" "ratio_study_arms/$(basename "$(dirname "$run")")/$(basename "$run")"
done
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "snapshot in $OUT: $(find "$OUT" -type f | wc -l) files, $(du -sh "$OUT" | cut -f1)"
