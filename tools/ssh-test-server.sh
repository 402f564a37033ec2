#!/usr/bin/env bash
# Installs what the SSH integration tests (test/ssh/) need: Debian's OpenSSH server (the tests run
# their own `sshd -D -f <generated config>` on a loopback port; no system sshd is started or
# enabled here), sudo, and an unprivileged login user with password-less sudo, because a real
# sudo test needs a user that is not root. Idempotent; does nothing that is already done.
# Needs root (the tests run sshd as root, which is how sshd can log a user in).
set -euo pipefail

TEST_USER="${SHIPDECK_SSH_TEST_USER:-shipdeck-ssh}"

if [ "$(id -u)" != 0 ]; then
  echo "SSH test server: needs root to install openssh-server and create ${TEST_USER}; skipped"
  exit 0
fi

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
[ -x /usr/bin/sudo ] || missing+=(sudo)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "SSH test server: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d 101 keeps the package from starting a system sshd on port 22.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
else
  echo "SSH test server: openssh-server and sudo already installed"
fi
# sshd refuses to start without its privilege separation directory.
mkdir -p /run/sshd && chmod 0755 /run/sshd

if ! id "$TEST_USER" >/dev/null 2>&1; then
  echo "SSH test server: creating user ${TEST_USER}"
  useradd --create-home --shell /bin/sh "$TEST_USER"
fi
# '*' (not '!'): sshd without PAM refuses even key logins to a locked ('!') account; the password
# test sets a real password for the run itself.
if [ "$(getent shadow "$TEST_USER" | cut -d: -f2)" = '!' ]; then usermod -p '*' "$TEST_USER"; fi
sudoers="/etc/sudoers.d/shipdeck-ssh-test"
if [ ! -f "$sudoers" ]; then
  echo "${TEST_USER} ALL=(ALL) NOPASSWD: ALL" >"$sudoers"
  chmod 0440 "$sudoers"
fi
echo "SSH test server: ready (sshd $(/usr/sbin/sshd -V 2>&1 | head -1 || true), user ${TEST_USER})"
