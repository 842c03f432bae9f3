#!/usr/bin/env bash
# The README's two commands as a new user meets them: a fresh clone of this checkout's HEAD, then `make demo`
# (set-up included) and `make test`, one after the other, each timed; nothing else should run meanwhile.
# Writes bench/results/fresh_clone.json and .md (the times docs/speed.md states).
#
#   bash bench/fresh_clone.sh                  # pip's download cache as this machine has it
#   bash bench/fresh_clone.sh --no-pip-cache   # as a machine that never downloaded these packages
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE=on
[ "${1:-}" = "--no-pip-cache" ] && CACHE=off
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ln -s "$(cd "$ROOT/.." && pwd)/shared" "$WORK/shared"   # the data beside the clone, as beside this checkout
git clone -q "$ROOT" "$WORK/fute"
COMMIT="$(git -C "$WORK/fute" rev-parse --short HEAD)"
cd "$WORK/fute"
[ "$CACHE" = off ] && export PIP_NO_CACHE_DIR=1

timed() {  # timed NAME CMD...: runs it, keeps its log, prints "milliseconds rc"
  local name=$1; shift
  local t0; t0=$(date +%s%N)
  set +e; "$@" >"$WORK/$name.log" 2>&1; local rc=$?; set -e
  echo "$(( ($(date +%s%N) - t0) / 1000000 )) $rc"
}
read -r DEMO_MS DEMO_RC < <(timed demo make demo)
read -r TEST_MS TEST_RC < <(timed test make test)
DEMO_EMBED="$(tr '\r' '\n' <"$WORK/demo.log" | tr '\n' ' ' | grep -a -o 'embedded *in [0-9]* s' | grep -o '[0-9]*' | tail -1 || true)"
SUMMARY="$(grep -a -E '^[0-9]+ passed' "$WORK/test.log" | tail -1 || true)"
CPU="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
mkdir -p "$ROOT/bench/work/fresh_clone" && cp "$WORK"/*.log "$ROOT/bench/work/fresh_clone/"  # kept (ignored by git)

cd "$ROOT"
python3 - "$COMMIT" "$CACHE" "$DEMO_MS" "$DEMO_RC" "$DEMO_EMBED" "$TEST_MS" "$TEST_RC" "$SUMMARY" "$CPU" "$(nproc)" <<'EOF'
import json, sys, time
from pathlib import Path
commit, cache, demo_ms, demo_rc, embed_s, test_ms, test_rc, summary, cpu, cores = sys.argv[1:]
out = Path("bench/results")
path = out / "fresh_clone.json"
runs = json.loads(path.read_text())["runs"] if path.is_file() else []
run = {
    "commit": commit, "pip_cache": cache, "date": time.strftime("%Y-%m-%d"),
    "machine": {"cpu": cpu, "cores": int(cores)},
    "make_demo_s": round(int(demo_ms) / 1000, 1), "make_demo_rc": int(demo_rc),
    "demo_embedding_s": int(embed_s) if embed_s else None,
    "make_test_s": round(int(test_ms) / 1000, 1), "make_test_rc": int(test_rc), "tests": summary,
    "command": "bash bench/fresh_clone.sh" + (" --no-pip-cache" if cache == "off" else ""),
}
runs = [r for r in runs if (r["commit"], r["pip_cache"]) != (commit, cache)] + [run]
path.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
rows = "\n".join(
    f"| {r['commit']} | {r['date']} | {r['pip_cache']} | {r['machine']['cpu']} ({r['machine']['cores']} cores) | "
    f"{r['make_demo_s']:.0f} s ({r['demo_embedding_s']} s embedding) | {r['make_test_s']:.0f} s | {r['tests']} |"
    for r in runs
)
if int(demo_rc) or int(test_rc):
    print(f"make demo exit {demo_rc}, make test exit {test_rc}: logs in bench/work/fresh_clone/", file=sys.stderr)
(out / "fresh_clone.md").write_text(
    "# `make demo` and `make test` on a fresh clone\n\n"
    "Command: `bash bench/fresh_clone.sh` (and `--no-pip-cache`): a fresh clone of the checkout's HEAD, `make demo` "
    "(set-up included: the virtual environment, CPU torch, the offline models), then `make test`, one after the "
    "other with nothing else running. pip cache *on*: the machine's download cache as it was; *off*: every package "
    "downloaded again.\n\n"
    "| commit | date | pip cache | machine | make demo | make test | tests |\n|---|---|---|---|---:|---:|---|\n"
    + rows + "\n"
)
print(json.dumps(run))
EOF
