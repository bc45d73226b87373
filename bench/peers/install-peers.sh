#!/usr/bin/env bash
# Installs the third-party peers the benchmarks measure Posthorn against (Postfix with its
# smtp-source/smtp-sink tools, Dovecot's POP3 server), idempotently, then stops and disables the
# system daemons the packages start so that nothing stays bound to a fixed port (25, 110, 143).
# The benchmarks run private instances of each peer on ephemeral 127.0.0.1 ports instead.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v postfix >/dev/null 2>&1 || need+=(postfix)
command -v smtp-source >/dev/null 2>&1 || need+=(postfix)
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-core)
[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-peers: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  # Postfix asks debconf questions on install; answer "Local only" non-interactively.
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string bench.invalid" | debconf-set-selections
  apt-get update -qq
  # policy-rc.d 101 keeps the packages' init scripts from starting daemons during install.
  had_policy=0
  [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  if [ "$had_policy" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ "$had_policy" = 0 ] && rm -f /usr/sbin/policy-rc.d
fi

# Stop whatever the packages may have started anyway, and keep it from starting at boot.
stop_service() {
  local svc=$1
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl stop "$svc" >/dev/null 2>&1 || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
  if [ -x "/etc/init.d/$svc" ]; then
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
  fi
  command -v update-rc.d >/dev/null 2>&1 && update-rc.d "$svc" disable >/dev/null 2>&1 || true
}
stop_service postfix
stop_service dovecot
# The system Postfix instance (config /etc/postfix) if it still runs.
postfix -c /etc/postfix status >/dev/null 2>&1 && postfix -c /etc/postfix stop >/dev/null 2>&1 || true
if [ -f /run/dovecot/master.pid ]; then
  kill "$(cat /run/dovecot/master.pid)" 2>/dev/null || true
fi

echo "install-peers: postfix $(postconf -d -h mail_version 2>/dev/null || echo '?'), dovecot $(dovecot --version 2>/dev/null || echo '?')"
