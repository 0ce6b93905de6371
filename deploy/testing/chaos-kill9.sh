#!/usr/bin/env bash
# Chaos test for delivery guarantees: kill -9 the daemon at random moments (20 times by default) while keyed messages
# flow through a route into an HTTP sink with a target outage now and then; checks lost == 0 and per-key order.
# Usage: bash deploy/testing/chaos-kill9.sh [--rounds N] [--messages N] [--seed N]
# Appends one summary line per run to bench-results/chaos.txt.
set -euo pipefail
source "$(dirname "$0")/../lib/env.sh"
cd "$CRMHUB_ROOT"
ensure_runtime
swift build --product crmhub
exec "$CRMHUB_VENV/bin/python" deploy/testing/chaos_kill9.py --crmhub "$(swift build --show-bin-path)/crmhub" \
  --tansu "$CRMHUB_TANSU" --output bench-results/chaos.txt "$@"
