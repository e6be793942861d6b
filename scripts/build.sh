#!/usr/bin/env bash
# Builds the single self-contained executable dist/soltix (runs without node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p dist
bun scripts/build.ts
echo "built dist/soltix ($(du -h dist/soltix | cut -f1))"
