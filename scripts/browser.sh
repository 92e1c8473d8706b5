#!/usr/bin/env bash
# Headless Chromium and its driver for the dashboard's browser tests: Debian's chromium and
# chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver). Installed with apt-get when missing and
# this runs as root; otherwise it says why and the browser tests skip with that reason. Never fails
# the build: the rest of the test suite does not need a browser.
set -uo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser.sh: chromium/chromium-driver are missing and cannot be installed here (needs root and apt-get): the dashboard's browser tests will skip"
  exit 0
fi
echo "browser.sh: installing Debian's chromium and chromium-driver for the dashboard's browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
  apt-get update -q >/dev/null 2>&1
  apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null \
    || echo "browser.sh: apt-get could not install chromium chromium-driver: the browser tests will skip"
fi
exit 0
