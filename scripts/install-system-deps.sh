#!/usr/bin/env bash
# Debian packages the tests need, installed by the project itself (never by hand).
# procps: slabtop, which test/report_procfs.test.ts runs on the written /proc/slabinfo
# (priority "important": Debian machines have it, so this is normally a no-op).
# The browser of the browser tests is not here: it comes from npm (the @sparticuz package,
# see test/browser.ts), so `npm install && npm test` is enough.
set -eu
needed=(procps)
missing=()
for p in "${needed[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
