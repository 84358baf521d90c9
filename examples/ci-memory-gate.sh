#!/usr/bin/env bash
# ci-memory-gate.sh — a memory gate for a CI job: runs your game (or its
# benchmark level) with framealloc's agent capturing to a file, then checks
# the run against a committed baseline with fa-cli. Copy it into your
# repository and call it from the job:
#
#   examples/ci-memory-gate.sh ./game --benchmark-level 3
#
# First run (no baseline file yet): writes the baseline and exits 0; commit
# it. Later runs: exit 4 when a tag's memory grew past the thresholds, 0
# otherwise (1 or 2 when something else went wrong, as fa-cli says).
# To accept a deliberate growth, save the baseline again and commit it
# (FA_GATE_UPDATE=1).
#
# Environment:
#   FA_BASELINE        the baseline file       (default memory-baseline.json)
#   FA_THRESHOLDS      per-tag thresholds file (default: none; fa-cli/README.md)
#   FA_GATE_ARGS       more fa-cli options, e.g. "--max-growth 5 --min-bytes 1MiB"
#   FA_REPORT_DIR      where the capture and reports go (default memory-report)
#   FA_GATE_UPDATE=1   save the baseline from this run instead of checking
#   FA_CLI             the fa-cli program      (default: fa-cli on PATH)
#
# Leaves in FA_REPORT_DIR: run.facap (the capture: keep it as an artifact to
# compare it later), memory.xml (JUnit: one test case per tag, for the CI's
# test report), memory.md (a Markdown table for a pull-request comment).
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 GAME [ARGS...]" >&2
    exit 2
fi
baseline=${FA_BASELINE:-memory-baseline.json}
out=${FA_REPORT_DIR:-memory-report}
cli=${FA_CLI:-fa-cli}
mkdir -p "$out"
capture="$out/run.facap"

# The game captures instead of streaming: no daemon in CI, and no code
# change (fa_agent_start reads FA_INSIGHT_URL).
FA_INSIGHT_URL="file:$capture" "$@"

if [ "${FA_GATE_UPDATE:-0}" = 1 ] || [ ! -f "$baseline" ]; then
    "$cli" baseline save "$baseline" --capture "$capture"
    echo "ci-memory-gate: baseline written to $baseline: commit it" >&2
    exit 0
fi

args=(baseline check "$baseline" --capture "$capture" --junit "$out/memory.xml")
[ -n "${FA_THRESHOLDS:-}" ] && args+=(--thresholds "$FA_THRESHOLDS")
# shellcheck disable=SC2206  # FA_GATE_ARGS is a list of options on purpose
[ -n "${FA_GATE_ARGS:-}" ] && args+=($FA_GATE_ARGS)

set +e
"$cli" "${args[@]}" --format markdown > "$out/memory.md"
rc=$?
set -e
# The table for the job's log (the report files are already written).
"$cli" "${args[@]}" --format table || true
exit $rc
