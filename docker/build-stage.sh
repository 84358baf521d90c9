#!/usr/bin/env bash
# The image's build stage: install build dependencies, build fa-insightd,
# fa-cli and the dashboard, and install them under STAGE/usr/local.
# `make test` runs this same script (test-docker) and then smoke-tests the
# staged install, because no Docker engine runs on the CI machines.
#   docker/build-stage.sh STAGE_DIR
set -euo pipefail
stage=${1:?usage: docker/build-stage.sh STAGE_DIR}
cd "$(dirname "$0")/.."
build=${BUILD:-build}
.ci/deps
make --no-print-directory BUILD="$build" all
make --no-print-directory BUILD="$build" install PREFIX=/usr/local DESTDIR="$stage" >/dev/null
test -x "$stage/usr/local/bin/fa-insightd"
test -x "$stage/usr/local/bin/fa-cli"
test -f "$stage/usr/local/share/framealloc/web/index.html"
echo "build-stage: staged fa-insightd, fa-cli and the dashboard under $stage/usr/local"
