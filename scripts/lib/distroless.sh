# Assemble container images the way distroless does — Debian packages unpacked with dpkg-deb (never
# installed: no maintainer scripts, no dpkg, no shell), their control files under
# /var/lib/dpkg/status.d/, one layer per package — and write them as an OCI image layout.
# Used by scripts/quickstart.sh and scripts/build-image.sh. Needs apt-get, dpkg-deb, tar, gzip, jq,
# sha256sum.
# shellcheck shell=bash

# Every layer and config gets this time, so a rebuild from the same packages gives the same digests.
: "${SOURCE_DATE_EPOCH:=1704067200}" # 2024-01-01T00:00:00Z

# dl_fetch_debs DIR PKG... -> downloads each package's .deb for this machine's release and
# architecture into DIR (reused when already there) and appends its path to DL_DEBS. A PKG written
# `a|b` takes the first of the alternatives the archive has (libssl3 on Debian 12, libssl3t64 on
# Ubuntu 24.04).
dl_fetch_debs() {
  local dir=$1 spec pkg found
  shift
  mkdir -p "$dir"
  for spec in "$@"; do
    found=""
    for pkg in ${spec//|/ }; do
      if compgen -G "$dir/${pkg}_*.deb" >/dev/null; then found=$pkg; break; fi
      if (cd "$dir" && apt-get download -q=2 "$pkg" >/dev/null 2>&1); then found=$pkg; break; fi
    done
    if [ -z "$found" ]; then
      # A fresh machine may have no package lists yet.
      if [ -z "${_DL_UPDATED:-}" ]; then
        _DL_UPDATED=1
        echo "  (apt-get update: no package lists for ${spec})" >&2
        ${SUDO:-} apt-get update -qq >&2 || true
        dl_fetch_debs "$dir" "$spec"
        continue
      fi
      echo "error: none of the packages '${spec}' can be downloaded with apt-get download" >&2
      return 1
    fi
    DL_DEBS+=("$(compgen -G "$dir/${found}_*.deb" | LC_ALL=C sort | tail -1)")
  done
}

# dl_base_rootfs DIR -> what distroless puts in its first layer: usr-merge symlinks, /tmp (1777),
# passwd/group with root, nobody and nonroot (65532), nsswitch.conf, the nonroot home.
dl_base_rootfs() {
  local root=$1
  mkdir -p "$root"/{etc,root,tmp,usr/bin,usr/sbin,usr/lib,usr/lib64,var/lib/dpkg/status.d,home/nonroot}
  ln -sfn usr/bin "$root/bin"
  ln -sfn usr/sbin "$root/sbin"
  ln -sfn usr/lib "$root/lib"
  ln -sfn usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
nonroot:x:65532:
EOF
  echo "hosts: files dns" >"$root/etc/nsswitch.conf"
}

# dl_package_rootfs DEB DIR -> the package's files in DIR, moved under usr/ where the package still
# ships /bin, /lib, … (so a later layer never replaces the base layer's symlinks), plus its control
# file as var/lib/dpkg/status.d/<name> and md5sums as <name>.md5sums (distroless's layout, no Status).
dl_package_rootfs() {
  local deb=$1 root=$2 name control top
  name=$(dpkg-deb -f "$deb" Package)
  mkdir -p "$root"
  dpkg-deb -x "$deb" "$root"
  for top in bin sbin lib lib64; do
    if [ -d "$root/$top" ] && [ ! -L "$root/$top" ]; then
      mkdir -p "$root/usr/$top"
      cp -a "$root/$top/." "$root/usr/$top/"
      rm -rf "${root:?}/$top"
    fi
  done
  control=$(mktemp -d)
  dpkg-deb -e "$deb" "$control"
  mkdir -p "$root/var/lib/dpkg/status.d"
  cp "$control/control" "$root/var/lib/dpkg/status.d/$name"
  [ -f "$control/md5sums" ] && cp "$control/md5sums" "$root/var/lib/dpkg/status.d/$name.md5sums"
  rm -rf "$control"
}

# dl_ca_bundle DIR -> etc/ssl/certs/ca-certificates.crt from the unpacked ca-certificates package
# (its postinst would generate it; distroless generates it at build time too).
dl_ca_bundle() {
  local root=$1 certs
  certs=$(find "$root/usr/share/ca-certificates" -name '*.crt' 2>/dev/null | LC_ALL=C sort)
  [ -n "$certs" ] || { echo "error: no certificates under $root/usr/share/ca-certificates" >&2; return 1; }
  mkdir -p "$root/etc/ssl/certs"
  # shellcheck disable=SC2086
  cat $certs >"$root/etc/ssl/certs/ca-certificates.crt"
}

# oci_init LAYOUT -> an empty OCI image layout; resets the layer list oci_add_layer appends to.
oci_init() {
  mkdir -p "$1/blobs/sha256"
  [ -f "$1/oci-layout" ] || echo '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
  [ -f "$1/index.json" ] || echo '{"schemaVersion":2,"manifests":[]}' >"$1/index.json"
  OCI_LAYERS=()
  OCI_DIFF_IDS=()
}

# _oci_blob LAYOUT FILE -> moves FILE into the layout by its digest; prints "sha256:<hex> <size>".
_oci_blob() {
  local layout=$1 file=$2 hex size
  hex=$(sha256sum "$file" | cut -d' ' -f1)
  size=$(stat -c %s "$file")
  mv "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# oci_add_layer LAYOUT DIR -> DIR as a deterministic gzip layer (sorted names without "./", fixed
# mtime, root-owned, pax), appended to OCI_LAYERS / OCI_DIFF_IDS.
oci_add_layer() {
  local layout=$1 dir=$2 tarfile diff_id blob
  tarfile=$(mktemp "$layout/layer.XXXXXX")
  (cd "$dir" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
    tar --null --no-recursion -T - --format=pax --pax-option=delete=atime,delete=ctime \
      --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf -) >"$tarfile"
  diff_id="sha256:$(sha256sum "$tarfile" | cut -d' ' -f1)"
  gzip -n -6 "$tarfile"
  blob=$(_oci_blob "$layout" "$tarfile.gz")
  OCI_LAYERS+=("$blob")
  OCI_DIFF_IDS+=("$diff_id")
}

# oci_commit LAYOUT TAG CONFIG_JSON -> writes the image config (CONFIG_JSON is the config's "config"
# object: User, Env, Entrypoint, …), the manifest over OCI_LAYERS, and tags it TAG in index.json
# (replacing an earlier manifest with that tag). Prints the manifest digest.
oci_commit() {
  local layout=$1 tag=$2 runtime_config=$3 created arch config_file manifest_file config layers
  created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  arch=$(dpkg --print-architecture)
  config_file=$(mktemp "$layout/config.XXXXXX")
  printf '%s\n' "${OCI_DIFF_IDS[@]}" | jq -R . | jq -s -c \
    --arg created "$created" --arg arch "$arch" --argjson config "$runtime_config" \
    '{created: $created, architecture: $arch, os: "linux", config: $config,
      rootfs: {type: "layers", diff_ids: .},
      history: [range(length) | {created: $created, created_by: "sealwatch scripts/lib/distroless.sh"}]}' \
    >"$config_file"
  config=$(_oci_blob "$layout" "$config_file")
  layers=$(printf '%s\n' "${OCI_LAYERS[@]}" | jq -R 'split(" ") | {
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: .[0], size: (.[1] | tonumber)}' | jq -s -c .)
  manifest_file=$(mktemp "$layout/manifest.XXXXXX")
  jq -n -c --arg config "$config" --argjson layers "$layers" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json",
               digest: ($config | split(" ")[0]), size: ($config | split(" ")[1] | tonumber)},
      layers: $layers}' >"$manifest_file"
  local manifest digest size
  manifest=$(_oci_blob "$layout" "$manifest_file")
  digest=${manifest% *}
  size=${manifest#* }
  jq -c --arg digest "$digest" --argjson size "$size" --arg tag "$tag" '
      .manifests |= (map(select(.annotations["org.opencontainers.image.ref.name"] != $tag)) + [{
        mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $digest, size: $size,
        annotations: {"org.opencontainers.image.ref.name": $tag}}])' \
    "$layout/index.json" >"$layout/index.json.new"
  mv "$layout/index.json.new" "$layout/index.json"
  echo "$digest"
}

# oci_push LAYOUT TAG REGISTRY/REPO:TAG -> copies the tagged image to a loopback registry over plain
# HTTP, keeping its digest.
oci_push() {
  skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$1:$2" "docker://$3"
}
