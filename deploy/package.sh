#!/usr/bin/env bash
# Builds the release tarball dist/crmhub-VERSION-linux-ARCH.tar.gz (and its .sha256). Layout inside crmhub-VERSION/:
#   bin/crmhub                       runpath $ORIGIN/../lib only (patchelf), so it loads lib/librdkafka.so.1
#   lib/librdkafka.so.1              the librdkafka >= 2.1 crmhub runs on (the confluent-kafka wheel's, from .venv)
#   lib/libswift*.so, libFoundation* the Swift runtime, only for a build without --static-swift-stdlib (--config debug)
#   lib/systemd/system/crmhub.service, lib/sysusers.d/crmhub.conf
#   share/man/man1/crmhub.1          man page (help2man on --help, every subcommand's help included; --man plugin
#                                    uses swift-argument-parser's generate-manual plugin instead, one page a subcommand)
#   share/bash-completion/completions/crmhub, share/zsh/site-functions/_crmhub, share/fish/vendor_completions.d/crmhub.fish
#   share/doc/crmhub/                README.md, LICENSE, CHANGELOG.md, deployment.md, BUILD (commit, versions, Debian deps)
#   share/crmhub/examples/           Connectors/, Mappings/, deploy/demo/, deploy/{systemd,container,compose}/crmhub.yaml
# Usage: bash deploy/package.sh [--config release|debug] [--scratch-path DIR] [--output DIR] [--man help2man|plugin]
#                               [--no-build]
#   --config debug reuses the debug build of deploy/test.sh (no second build) and bundles the Swift runtime.
#   --no-build packages the binary already in the scratch path as it is.
#   --man plugin: the plugin first builds every executable product of the package in the chosen configuration,
#   without --static-swift-stdlib; after a release build with that flag this recompiled the whole dependency graph
#   here (an hour on a loaded 2-core machine), hence help2man by default.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$CRMHUB_ROOT"

CONFIG=release SCRATCH=.build OUTPUT=dist MAN=help2man BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --config) CONFIG=$2; shift 2 ;;
    --scratch-path) SCRATCH=$2; shift 2 ;;
    --output) OUTPUT=$2; shift 2 ;;
    --man) MAN=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) log "unknown argument $1 (see the head of deploy/package.sh)"; exit 2 ;;
  esac
done
case "$CONFIG" in release | debug) ;; *) log "--config is release or debug"; exit 2 ;; esac

ensure_runtime
ensure_system_packages "${CRMHUB_PACKAGE_APT_PACKAGES[@]}"

BUILD_FLAGS=(-c "$CONFIG" --scratch-path "$SCRATCH")
# A release build links the Swift runtime statically: the tarball then needs only Debian's libc, libcurl, SQLite.
[ "$CONFIG" = release ] && BUILD_FLAGS+=(--static-swift-stdlib)
if [ "$BUILD" = 1 ]; then
  log "building crmhub ($CONFIG; a first release build takes 10-20 minutes on a quiet machine)"
  swift build "${BUILD_FLAGS[@]}" --product crmhub
fi
BIN_DIR=$(swift build "${BUILD_FLAGS[@]}" --show-bin-path)

VERSION=$("$BIN_DIR/crmhub" --version)
ARCH=$(uname -m)
NAME="crmhub-$VERSION"
[ "$CONFIG" = debug ] && NAME="$NAME-debug"
COMMIT=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- 2>/dev/null || COMMIT="$COMMIT-dirty"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/$NAME"
mkdir -p "$STAGE"/{bin,lib/systemd/system,lib/sysusers.d,share/man/man1,share/doc/crmhub,share/crmhub/examples}
mkdir -p "$STAGE"/share/{bash-completion/completions,zsh/site-functions,fish/vendor_completions.d}

# The binary, with a runpath that points into the package only (the development runpath names this checkout).
install -m 0755 "$BIN_DIR/crmhub" "$STAGE/bin/crmhub"
# DWARF out (about 190 MB of a 200 MB release binary); the symbol table stays for Swift's crash backtraces.
strip --strip-debug "$STAGE/bin/crmhub"
patchelf --set-rpath '$ORIGIN/../lib' "$STAGE/bin/crmhub"
install -m 0755 "$(runtime_library_path)" "$STAGE/lib/librdkafka.so.1"
if [ "$CONFIG" = debug ]; then
  # Dynamic Swift runtime: bundle the toolchain's libraries the binary loads (their own runpath is $ORIGIN).
  swift_lib_dir=$(dirname "$(command -v swift)")/../lib/swift/linux
  swift_lib_dir=$(cd "$swift_lib_dir" && pwd -P)
  ldd "$BIN_DIR/crmhub" | awk -v dir="$swift_lib_dir/" 'index($3, dir) == 1 { print $3 }' | while read -r library; do
    install -m 0755 "$library" "$STAGE/lib/"
  done
fi
check_standalone() {  # the packaged binary, from a clean environment, loads the packaged librdkafka
  local out
  out=$(env -i "$STAGE/bin/crmhub" version)
  echo "$out" | grep -q '^librdkafka runtime 2\.' || { log "packaged crmhub: unexpected 'version' output: $out"; return 1; }
  if echo "$out" | grep -q '^warning'; then log "packaged crmhub loads an old librdkafka: $out"; return 1; fi
  local loaded
  loaded=$(env -i ldd "$STAGE/bin/crmhub" | awk '$1 == "librdkafka.so.1" { print $3 }')
  [ "$(readlink -f "$loaded")" = "$(readlink -f "$STAGE/lib/librdkafka.so.1")" ] \
    || { log "packaged crmhub does not resolve lib/librdkafka.so.1"; env -i ldd "$STAGE/bin/crmhub" >&2; return 1; }
  if env -i ldd "$STAGE/bin/crmhub" | grep -q 'not found'; then log "packaged crmhub misses libraries"; return 1; fi
  echo "$out"
}
KAFKA_LINE=$(check_standalone | sed -n 's/^librdkafka runtime //p')

# Shell completions and man pages, generated by ArgumentParser from the command definitions.
env -i "$STAGE/bin/crmhub" --generate-completion-script bash >"$STAGE/share/bash-completion/completions/crmhub"
env -i "$STAGE/bin/crmhub" --generate-completion-script zsh >"$STAGE/share/zsh/site-functions/_crmhub"
env -i "$STAGE/bin/crmhub" --generate-completion-script fish >"$STAGE/share/fish/vendor_completions.d/crmhub.fish"
MAN_DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
if [ "$MAN" = plugin ]; then
  # The GenerateManual plugin of swift-argument-parser builds every executable product in $CONFIG first (a no-op
  # after deploy/test.sh for debug); it overwrites the built crmhub, so the staged copy above is taken before.
  log "man pages: swift package plugin generate-manual (--configuration $CONFIG)"
  if swift package --scratch-path "$SCRATCH" plugin generate-manual --configuration "$CONFIG" --multi-page \
      --date "$MAN_DATE" --authors "crmhub developers" >"$WORK/manual.log" 2>&1; then
    find "$SCRATCH/plugins/GenerateManual" -path '*/crmhub/*.1' -exec install -m 0644 {} "$STAGE/share/man/man1/" \;
  fi
  if ! [ -f "$STAGE/share/man/man1/crmhub.1" ]; then
    log "the generate-manual plugin gave no crmhub.1 ($WORK/manual.log below); falling back to help2man"
    tail -n 20 "$WORK/manual.log" >&2
    MAN=help2man
  fi
fi
if [ "$MAN" = help2man ]; then
  ensure_system_packages help2man
  # One page: crmhub --help, then every subcommand's --help (and its subcommands') as a section of its own.
  subcommands() {  # COMMAND...: the names under SUBCOMMANDS: in COMMAND --help
    env -i "$STAGE/bin/crmhub" "$@" --help | awk '/^SUBCOMMANDS:/ { on = 1; next } on && /^[^ ]/ { on = 0 }
      on && /^  [a-z]/ { print $1 }'
  }
  {
    echo "[SUBCOMMANDS]"
    for sub in $(subcommands); do
      [ "$sub" = help ] && continue
      for path in "$sub" $(subcommands "$sub" | grep -vx help | sed "s/^/$sub /"); do
        echo ".SS crmhub $path"
        echo ".nf"
        # shellcheck disable=SC2086  # $path is one or two words on purpose
        env -i "$STAGE/bin/crmhub" $path --help | sed -e 's/\\/\\e/g' -e 's/^[.'"'"']/\\\&&/'
        echo ".fi"
      done
    done
  } >"$WORK/subcommands.h2m"
  help2man --no-info --section 1 --name "integration hub for CRM on Kafka" --version-string "$VERSION" \
    --include "$WORK/subcommands.h2m" "$STAGE/bin/crmhub" >"$STAGE/share/man/man1/crmhub.1"
fi

# Service files, documents, example configuration (the checkout's relative layout, so the demo's paths hold).
install -m 0644 deploy/systemd/crmhub.service "$STAGE/lib/systemd/system/crmhub.service"
install -m 0644 deploy/systemd/crmhub.sysusers "$STAGE/lib/sysusers.d/crmhub.conf"
install -m 0644 README.md LICENSE CHANGELOG.md docs/deployment.md "$STAGE/share/doc/crmhub/"
git ls-files -z -- Connectors Mappings deploy/demo deploy/systemd/crmhub.yaml deploy/container/crmhub.yaml \
    deploy/compose/crmhub.yaml \
  | while IFS= read -r -d '' file; do
    [ -f "$file" ] && install -D -m 0644 "$file" "$STAGE/share/crmhub/examples/$file"
  done
chmod 0755 "$STAGE"/share/crmhub/examples/Connectors/examples/process/*.py 2>/dev/null || true

# BUILD: what this tarball is, and the Debian packages its binary needs (from ldd, read back with dpkg -S).
# Only the binary's own NEEDED entries: apt brings what those libraries need in turn.
NEEDED=$(readelf -d "$STAGE/bin/crmhub" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
DEBIAN_DEPS=$(env -i ldd "$STAGE/bin/crmhub" | awk -v needed="$NEEDED" 'BEGIN { n = split(needed, list, " ");
    for (i = 1; i <= n; i++) want[list[i]] = 1 } $2 == "=>" && ($1 in want) && $3 ~ /^\// { print $3 }' \
  | grep -v "^$STAGE/" \
  | while read -r library; do dpkg -S "$(readlink -f "$library")" 2>/dev/null || dpkg -S "$library" 2>/dev/null || true; done \
  | cut -d: -f1 | sort -u | tr '\n' ' ')
cat >"$STAGE/share/doc/crmhub/BUILD" <<EOF
crmhub $VERSION ($CONFIG build)
commit: $COMMIT
built: $(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ) (commit time)
swift: $(swift --version 2>&1 | head -n 1)
librdkafka: $KAFKA_LINE
debian-packages: $DEBIAN_DEPS
EOF

mkdir -p "$OUTPUT"
TARBALL="$OUTPUT/$NAME-linux-$ARCH.tar.gz"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -C "$WORK" -cf - "$NAME" \
  | gzip -n -6 >"$TARBALL"
(cd "$OUTPUT" && sha256sum "$(basename "$TARBALL")" >"$(basename "$TARBALL").sha256")
log "package: $TARBALL ($(du -h "$TARBALL" | cut -f1)); librdkafka $KAFKA_LINE; needs Debian packages: $DEBIAN_DEPS"
echo "$TARBALL"
