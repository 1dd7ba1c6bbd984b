#!/usr/bin/env bash
# Debian packages the tests need, installed by the project itself (never by hand).
# procps: slabtop, which test/report_procfs.test.ts runs on the written /proc/slabinfo.
# chromium: the headless browser test/report_html.test.ts opens the HTML report in
# (driven by playwright-core, which downloads no browser of its own).
set -eu
needed=(procps chromium)
if [ ${#needed[@]} -gt 0 ]; then
  missing=()
  for p in "${needed[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
