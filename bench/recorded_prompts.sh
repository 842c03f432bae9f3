#!/usr/bin/env bash
# Prompt selection measured on a larger LLM than this CPU can run: record its outputs where it runs (a GPU), then
# run the prompt benchmark on the recordings, which needs no LLM. One command, from the repository root:
#
#   bash bench/recorded_prompts.sh MODEL [DEVICE]      # MODEL: a hub id or folder there; DEVICE: cuda (default)
#
# Writes bench/results/prompts_recorded_NAME/: recorded/ (one JSONL per prompt), the truth, the MTEs and the eval
# tables, the same settings as the committed SmolLM2/gemma run (bench/results/prompts_truth100). Resumable: rerun
# the same command.
set -euo pipefail
LLM=${1:?give the LLM: a hub id or a folder}
DEVICE=${2:-cuda}
NAME=$(basename "$LLM")
OUT=bench/results/prompts_recorded_$NAME
export PATH="$PWD/.venv/bin:$PATH"  # the project's environment (make setup)
D="--data sentiment=../shared/data/sst2 --data sentiment=../shared/data/mr --data sentiment=../shared/data/imdb --data nli=../shared/data/rte --data nli=../shared/data/cb --data nli=../shared/data/mnli"
python bench/record_prompts.py --llm "$LLM" $D --examples 100 --max-reasoning-tokens 32 --mte-examples 128 --device "$DEVICE" --out "$OUT/recorded"
fute bench prompts truth $D --llm "recorded:$OUT/recorded" --examples 100 --max-reasoning-tokens 32 --run-dir "$OUT" --results "$OUT" --quiet
fute bench prompts vectors $D --llm "recorded:$OUT/recorded" --max-reasoning-tokens 32 --run-dir "$OUT"
fute bench prompts eval --run-dir "$OUT" --results "$OUT"
