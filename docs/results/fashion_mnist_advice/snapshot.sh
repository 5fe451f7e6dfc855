#!/usr/bin/env bash
# Copy what the Fashion-MNIST advisor study measured into the repository, so that no
# computed result is lost with the machine: the sweep database (read through sqlite's
# backup, a consistent copy while the sweep writes), every run's config.yaml,
# metrics.jsonl and readouts.json, and the floors. Checkpoints stay in runs/.
#   bash docs/results/fashion_mnist_advice/snapshot.sh [runs]
# Then: table.py --db snapshot/fm_advice.db --runs snapshot/runs --floors snapshot/floors
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${1:-runs}
OUT=docs/results/fashion_mnist_advice/snapshot
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp/runs" "$OUT.tmp/floors"
.venv/bin/python - "$RUNS/fm_advice.db" "$OUT.tmp/fm_advice.db" <<'PY'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close(); src.close()
PY
for run in "$RUNS"/fm_advice/*/; do
    run=${run%/}
    [ -d "$run/train" ] || continue
    mkdir -p "$OUT.tmp/runs/$(basename "$run")"
    cp "$run/train/config.yaml" "$run/train/metrics.jsonl" "$OUT.tmp/runs/$(basename "$run")/"
    [ -f "$run/readouts.json" ] && cp "$run/readouts.json" "$OUT.tmp/runs/$(basename "$run")/"
done
cp "$RUNS"/fm_advice_floors/seed*.json "$OUT.tmp/floors/" 2>/dev/null || true
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "snapshot in $OUT: $(find "$OUT" -type f | wc -l) files, $(du -sh "$OUT" | cut -f1)"
