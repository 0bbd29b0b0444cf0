#!/usr/bin/env bash
# The console's browser tests drive Debian's chromium through playwright-core
# (Playwright's own browser download cannot work here). Idempotent: does
# nothing when /usr/bin/chromium exists; never fails the caller — without a
# browser the suite skips with a message.
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: /usr/bin/chromium is missing and apt-get is not available; the console browser tests will skip" >&2
  exit 0
fi
sudo_cmd=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo -n"; else
    echo "install-browser: not root and no sudo; the console browser tests will skip" >&2
    exit 0
  fi
fi
echo "install-browser: installing Debian's chromium for the console browser tests"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq >/dev/null 2>&1 || true
if ! $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  echo "install-browser: apt-get install chromium failed; the console browser tests will skip" >&2
fi
exit 0
