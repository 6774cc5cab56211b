#!/usr/bin/env bash
# Run `make $STRESS_TARGET` (default: test) $STRESS_RUNS times (default: 1) while stress-ng
# keeps every CPU busy, to find tests that flake on a busy machine. Prints each run's time and
# outcome, and a summary; exits non-zero if any run failed. stress-ng is stopped on exit.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${STRESS_RUNS:-1}
target=${STRESS_TARGET:-test}
cpus=${STRESS_CPUS:-$(nproc)}
# Not test-results/: pytest-playwright empties that folder when a run starts.
log_dir=${STRESS_LOG_DIR:-bench/results/stress}

if ! command -v stress-ng >/dev/null 2>&1; then
  echo "test-stress: stress-ng is needed: sudo apt-get install stress-ng" >&2
  exit 2
fi
mkdir -p "$log_dir"

stress-ng --cpu "$cpus" --quiet &
stress_pid=$!
trap 'kill "$stress_pid" 2>/dev/null; wait "$stress_pid" 2>/dev/null' EXIT
echo "test-stress: stress-ng --cpu $cpus (pid $stress_pid); make $target, $runs run(s)"

failed=0
for run in $(seq 1 "$runs"); do
  log="$log_dir/run-$run.log"
  start=$(date +%s)
  if make "$target" >"$log" 2>&1; then outcome=passed; else outcome=FAILED; failed=$((failed + 1)); fi
  seconds=$(($(date +%s) - start))
  summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$log" | tail -n 2 | tr '\n' ' ')
  echo "run $run: $outcome in ${seconds}s: $summary(log: $log)"
done
echo "test-stress: $((runs - failed)) of $runs run(s) passed"
[ "$failed" -eq 0 ]
