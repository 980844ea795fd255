#!/usr/bin/env bash
# fse-pades against pyHanko, same file, same machine, same run.
#
#   scripts/pades_bench/run.sh            # ITERATIONS=30 pyHanko rounds by default
#
# Runs the criterion bench crates/fse-pades/benches/sign.rs (sign and
# inject+sign of the official LAB sample, RSA-2048, PAdES B-B), then
# pyhanko_bench.py doing the same in-process with pyHanko, and prints the
# ratios. Exits 1 when fse-pades is not at least 50 times faster.
# Needs: the corpus (FSE_CORPUS, default ../shared/corpus), python3 with
# pyhanko (pip install -r .ci/requirements-oracles.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."

CORPUS=${FSE_CORPUS:-../shared/corpus}
TARGET=${CARGO_TARGET_DIR:-target}
ITERATIONS=${ITERATIONS:-30}

cargo bench -p fse-pades --bench sign -- 'pades/(sign|inject_sign)/LAB'
python3 scripts/pades_bench/pyhanko_bench.py "$CORPUS" "$ITERATIONS" > "$TARGET/pades-bench-pyhanko.json"

python3 - "$TARGET" <<'PY'
import json, os, sys
target = sys.argv[1]
pyhanko = json.load(open(os.path.join(target, "pades-bench-pyhanko.json")))
worst = None
print(f"{'operation':<18}{'fse-pades (ms)':>16}{'pyHanko (ms)':>14}{'ratio':>9}")
for op in ("sign/LAB", "inject_sign/LAB"):
    est = json.load(open(os.path.join(target, "criterion", "pades", op.replace("/", "_"), "new", "estimates.json")))
    ours = est["median"]["point_estimate"] / 1e6
    theirs = pyhanko[op]["median_ms"]
    ratio = theirs / ours
    worst = ratio if worst is None else min(worst, ratio)
    print(f"{op:<18}{ours:>16.3f}{theirs:>14.2f}{ratio:>8.0f}x")
print(f"bar (>= 50x): {'met' if worst >= 50 else 'NOT met'} (worst ratio {worst:.0f}x, medians)")
sys.exit(0 if worst >= 50 else 1)
PY
