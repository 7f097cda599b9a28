#!/usr/bin/env bash
# Runs every Fuzz target in the module for the given time each (default 20s).
set -euo pipefail
time=${1:-20s}
for pkg in $(go list ./...); do
  for t in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $t"
    go test -run='^$' -fuzz="^$t\$" -fuzztime="$time" -fuzzminimizetime=1s "$pkg"
  done
done
