#!/usr/bin/env bash
# Idempotent: installs the services the scale-out tests run (tests/scaleout) — redis-server,
# rabbitmq-server and nginx — from Debian packages, only when they are missing. The tests start
# and stop their own instances on free 127.0.0.1 ports; nothing is enabled or started here.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "services-setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The packages may start their system services on install (ports 6379, 5672 and 80): harmless,
# the tests never use them (their RabbitMQ node has its own name, ports, cookie and data).
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
