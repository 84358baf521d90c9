#!/usr/bin/env bash
# The README's own-game program, as a reader would use it: the code block in
# README.md is examples/readme_game.c (checked), built against an installed
# prefix with pkg-config, run against a real fa-insightd; the session, its
# frames and the physics alert must show in the API.
set -u
build=${1:?usage: readme_game.sh BUILD_DIR PREFIX}
prefix=${2:?usage: readme_game.sh BUILD_DIR PREFIX}
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "[PASS] readme::$1"; else fail=$((fail+1)); echo "[FAIL] readme::$1 ${3:-}"; fi; }

block=$(python3 - <<'PY'
import re
s = open("README.md").read()
m = re.search(r"```c\n(#include <fa_agent.h>.*?)```", s, re.S)
print(m.group(1) if m else "", end="")
PY
)
file=$(tail -n +4 examples/readme_game.c)
check "the_readme_block_is_examples_readme_game_c" '[ "$block" = "$file" ]'

tmp=$(mktemp -d)
PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc examples/readme_game.c -o "$tmp/game" \
    $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs fa-agent) 2> "$tmp/cc.log"
check "it_builds_with_pkg_config_fa_agent" '[ -x "$tmp/game" ]' "$(cat "$tmp/cc.log")"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(port); ingest=$(port)
"$build/fa-insightd" --listen "127.0.0.1:$http" --ingest "tcp://127.0.0.1:$ingest" --db "$tmp/db" \
    > "$tmp/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$http/api/v1/health" >/dev/null && break; sleep 0.1; done
FA_INSIGHT_URL="tcp://127.0.0.1:$ingest" "$tmp/game"
check "it_runs_and_exits_0" '[ $? = 0 ]'
sleep 0.6
sessions=$(curl -fs "http://127.0.0.1:$http/api/v1/sessions")
check "its_session_shows_in_the_daemon" 'echo "$sessions" | grep -q "\"app\":\"my-game\""' "$sessions"
sid=$(echo "$sessions" | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin)["sessions"] if s["app"]=="my-game"][0])' 2>/dev/null)
frames=$(echo "$sessions" | python3 -c 'import json,sys; print([s["frames"] for s in json.load(sys.stdin)["sessions"] if s["app"]=="my-game"][0])' 2>/dev/null)
check "its_frames_are_stored" '[ "${frames:-0}" -ge 550 ]' "frames=$frames"
alerts=$(curl -fs "http://127.0.0.1:$http/api/v1/alerts?session=$sid")
check "the_physics_budget_alert_is_raised" 'echo "$alerts" | grep -q "\"tag\":\"physics\""' "$alerts"
kill -TERM $daemon; wait $daemon 2>/dev/null
rm -rf "$tmp"
echo "readme: $pass passed, $fail failed"
[ $fail = 0 ]
