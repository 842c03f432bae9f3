#!/usr/bin/env bash
# Labeling speed of the first labeling code (commit af3f866, where CoT was first measured at 0.7 examples/s) and of
# this checkout, on one machine: speeds here differ between machines as much as between versions of the code, so a
# speed-up is only read from runs on the same machine. Writes bench/results/label_speed_same_machine/.
#   bash bench/label_speed_same_machine.sh            # from the repository root, after `make setup`
set -euo pipefail
root=$(pwd)
out=$root/bench/results/label_speed_same_machine
base=$(mktemp -d)/af3f866
git worktree add -f "$base" af3f866 -q
trap 'git worktree remove --force "$base"' EXIT
old() { (cd "$base" && PYTHONPATH="$base/src" "$root/.venv/bin/python" bench/label_speed.py "$@"); }
new() { "$root/.venv/bin/python" bench/label_speed.py "$@"; }
for run in run0 run1 run2; do  # the first code's own workload: CoT capped at 64 tokens, 16 texts
  old --out "$out/af3f866_cap64/$run"
done
for run in run1 run2; do
  new --cot-examples 16 --reasoning-tokens 64 --out "$out/head_cap64/$run"
done
# the prompt benchmark's workload: cap 32, 128 texts (this checkout's rows: bench/results/label_speed_cot_prefix)
old --cot-examples 128 --reasoning-tokens 32 --out "$out/af3f866_cap32"
