#!/bin/bash
# The layering rule of docs/architecture.md that a grep can check: kernels/ (the leaves) include
# nothing of the runtime, actors, HTTP, load generator or CLI layers, and base/ nothing of the
# project. Prints the offending lines and fails when there are any.
cd "$(dirname "$0")/.." || exit 2
bad=$(grep -rnE '#include "(runtime|actors|actor_telemetry|http|loadgen|tools)/' kernels/ base/;
      grep -rnE '#include "(kernels|runtime|actors|actor_telemetry|http|loadgen|tools)/' base/)
if [ -n "$bad" ]; then
  echo "layering: a lower layer includes a higher one:"
  echo "$bad"
  exit 1
fi
echo "layering: kernels/ and base/ include no higher layer"
