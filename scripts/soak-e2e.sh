#!/usr/bin/env bash
# Soak: runs the healthy canary release of `npm start` (v2 promoted 10/50/100 under 100 client
# requests/s) N times on each traffic backend, each in a fresh local world, and reports what the
# clients saw per run and in total. A healthy release must cost no failed request, so any
# non-zero count is a flake to chase.
#
#   scripts/soak-e2e.sh            # 5 runs per backend
#   scripts/soak-e2e.sh 10 alb     # 10 runs, ALB only
#
# Exit status: 0 when every run promoted with 0 failed requests, 1 otherwise, 2 for bad arguments.
set -euo pipefail

runs="${1:-5}"
shift || true
backends=("${@:-alb appmesh}")
# shellcheck disable=SC2206 # one word per backend on purpose
backends=(${backends[*]})
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/soak-e2e.sh [RUNS] [alb|appmesh ...]" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bad=0

printf '%-8s %4s  %-12s %9s %7s %s\n' backend run outcome requests failed 'failed by colour (why)'
for backend in "${backends[@]}"; do
  total_requests=0
  total_failed=0
  for run in $(seq 1 "$runs"); do
    report="$work/$backend-$run.json"
    # Exit 1 means rolled back: still a result to report, not a reason to stop the soak.
    npx tsx local/start.ts --traffic "$backend" --report "$report" >"$work/$backend-$run.log" 2>&1 || true
    if [[ ! -s "$report" ]]; then
      printf '%-8s %4s  %-12s (no report; see below)\n' "$backend" "$run" error
      tail -5 "$work/$backend-$run.log" >&2
      bad=1
      continue
    fi
    line="$(node -e '
      const r = require(process.argv[1]);
      const byColour = Object.entries(r.traffic.byColour).map(([c, v]) => `${c}:${v.failed}`).join(" ");
      const why = Object.entries(r.traffic.failures ?? {}).map(([k, v]) => `${k}x${v}`).join(" ");
      console.log([r.outcome, r.traffic.requests, r.traffic.failed, byColour + (why ? ` (${why})` : "")].join("\t"));
    ' "$report")"
    IFS=$'\t' read -r outcome requests failed by_colour <<<"$line"
    printf '%-8s %4s  %-12s %9s %7s %s\n' "$backend" "$run" "$outcome" "$requests" "$failed" "$by_colour"
    total_requests=$((total_requests + requests))
    total_failed=$((total_failed + failed))
    if [[ "$outcome" != promoted || "$failed" != 0 ]]; then bad=1; fi
  done
  printf '%-8s %4s  %-12s %9s %7s\n' "$backend" all total "$total_requests" "$total_failed"
done
exit "$bad"
