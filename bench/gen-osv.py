#!/usr/bin/env python3
"""Generate a synthetic-but-realistic OSV data set for bench/db.sh: one all.zip per ecosystem, 150,000
records in total by default, deterministic (seeded).

Package names: the Debian source packages of an image's SBOM (sealwatch sbom --format json), so that a scan
of that image does real matching work, plus common source-package and library names per ecosystem (with
numbered variants to reach realistic package counts). Record shape follows real feeds: CVE aliases, CVSS v3.1
vectors, 2-4 references, a few hundred to ~1,500 characters of details, several releases per distro record.

usage: gen-osv.py SBOM.json OUT_DIR [TOTAL]
"""
import json
import random
import sys
import zipfile

sbom_path, out_dir = sys.argv[1], sys.argv[2]
total = int(sys.argv[3]) if len(sys.argv) > 3 else 150_000
rng = random.Random(20261127)

image = {}  # Debian source name -> installed source version
for pkg in json.load(open(sbom_path))["packages"]:
    if pkg.get("kind") == "deb":
        image[pkg.get("source_name") or pkg["name"]] = pkg.get("source_version") or pkg["version"]

DISTRO_SOURCES = """openssl curl glibc systemd linux openssh bash coreutils util-linux tar gzip xz-utils zlib
bzip2 libzstd lz4 perl python3.11 python3.12 nodejs ruby3.1 php8.2 nginx apache2 postgresql-15 mariadb sqlite3
libxml2 libxslt expat krb5 gnutls28 nettle libgcrypt20 libgpg-error gnupg2 pam shadow sudo dbus polkit-1
libpng1.6 libjpeg-turbo tiff giflib libwebp freetype fontconfig cairo pango1.0 harfbuzz glib2.0 gtk+3.0
imagemagick ghostscript poppler cups avahi bind9 dnsmasq isc-dhcp unbound samba nfs-utils rsync wget git
subversion mercurial vim emacs nano less file binutils gcc-12 llvm-toolchain-15 cmake make pcre2 pcre3 jq
libyaml libtasn1-6 p11-kit ca-certificates libssh libssh2 nghttp2 c-ares libevent libuv1 icu ncurses readline
libcap2 libseccomp libselinux e2fsprogs xfsprogs btrfs-progs lvm2 cryptsetup mdadm grub2 shim openldap
cyrus-sasl2 libidn2 libunistring libpsl brotli libarchive zip unzip p7zip libtirpc rpcbind procps psmisc
iproute2 iptables nftables openvpn wireguard strongswan haproxy squid exim4 postfix dovecot tomcat10 openjdk-17
""".split()
PYPI = """requests urllib3 django flask jinja2 werkzeug pyyaml pillow numpy scipy pandas cryptography paramiko
sqlalchemy celery aiohttp tornado twisted lxml setuptools pip wheel certifi idna chardet httpx fastapi starlette
pydantic gunicorn uvicorn boto3 botocore ansible salt jupyter notebook ipython tensorflow torch transformers
mlflow gradio streamlit scrapy pymongo redis psycopg2 mysql-connector-python pyjwt oauthlib python-multipart
""".split()
NPM = """lodash express axios moment minimist node-fetch ws jsonwebtoken body-parser qs semver tar ejs handlebars
marked underscore jquery bootstrap react react-dom next vue angular webpack babel-core debug mongoose sequelize
socket.io passport request yargs glob minimatch path-to-regexp follow-redirects tough-cookie xml2js cookie
""".split()
GO = """golang.org/x/net golang.org/x/crypto golang.org/x/text golang.org/x/sys github.com/gin-gonic/gin
github.com/gorilla/websocket github.com/docker/docker github.com/containerd/containerd k8s.io/kubernetes
github.com/opencontainers/runc google.golang.org/grpc github.com/prometheus/client_golang
github.com/hashicorp/vault github.com/hashicorp/consul github.com/etcd-io/etcd stdlib
github.com/go-git/go-git/v5 github.com/jackc/pgx/v5 github.com/golang-jwt/jwt/v4""".split()
MAVEN = """org.apache.logging.log4j:log4j-core com.fasterxml.jackson.core:jackson-databind
org.springframework:spring-core org.springframework:spring-web org.apache.commons:commons-text
org.apache.tomcat.embed:tomcat-embed-core io.netty:netty-codec-http org.yaml:snakeyaml
com.google.guava:guava org.apache.struts:struts2-core commons-io:commons-io org.bouncycastle:bcprov-jdk18on
""".split()
CRATES = "tokio hyper openssl regex time chrono serde_yaml h2 rustls smallvec crossbeam-channel tar zip".split()
GEMS = "rails rack nokogiri actionpack activerecord puma devise sinatra rexml json net-imap".split()

# (ecosystem, release suffixes, names, share of the total, version style)
PLAN = [
    ("Debian", ["Debian:11", "Debian:12", "Debian:13"], sorted(image) + DISTRO_SOURCES, 0.30, "deb"),
    ("Ubuntu", ["Ubuntu:20.04:LTS", "Ubuntu:22.04:LTS", "Ubuntu:24.04:LTS"], DISTRO_SOURCES, 0.15, "deb"),
    ("Alpine", ["Alpine:v3.18", "Alpine:v3.19", "Alpine:v3.20"], DISTRO_SOURCES, 0.08, "apk"),
    ("Red Hat", ["Red Hat:enterprise_linux:8::baseos", "Red Hat:enterprise_linux:9::baseos"], DISTRO_SOURCES, 0.07, "rpm"),
    ("PyPI", ["PyPI"], PYPI, 0.12, "semver"),
    ("npm", ["npm"], NPM, 0.14, "semver"),
    ("Go", ["Go"], GO, 0.06, "go"),
    ("Maven", ["Maven"], MAVEN, 0.04, "semver"),
    ("crates.io", ["crates.io"], CRATES, 0.02, "semver"),
    ("RubyGems", ["RubyGems"], GEMS, 0.02, "semver"),
]

WORDS = ("buffer overflow use after free out-of-bounds read write integer underflow heap stack null pointer "
         "dereference denial of service remote attacker crafted input request header cookie certificate "
         "validation bypass authentication privilege escalation injection traversal race condition memory leak "
         "infinite loop parser decoder allows could leads to via when processing an a the in of with").split()

def text(lo, hi):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize() + "."

def version(style, base=None):
    a, b, c = rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 20)
    if style == "deb":
        return base or f"{a}.{b}.{c}-{rng.randint(1, 5)}"
    if style == "apk":
        return f"{a}.{b}.{c}-r{rng.randint(0, 9)}"
    if style == "rpm":
        return f"{a}.{b}.{c}-{rng.randint(1, 40)}.el9"
    if style == "go":
        return f"{a}.{b}.{c}"
    return f"{a}.{b}.{c}"

def deb_fixed(name):
    """For a package in the image: mostly older fixes (not affected), sometimes newer ones (a finding)."""
    installed = image.get(name)
    if installed is None:
        return version("deb")
    if rng.random() < 0.03:
        return installed + "+deb12u99"  # newer than the installed version
    return "0." + installed.split(":")[-1]  # older than the installed version

CVSS = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"]

cve_counter = 10000
for eco, releases, names, share, style in PLAN:
    count = int(total * share)
    if eco == "Debian":
        count = total - sum(int(total * p[3]) for p in PLAN if p[0] != "Debian")
    # Realistic package counts: the named packages plus numbered variants (libfoo, libfoo-2, ...).
    pool = names + [f"{rng.choice(names)}-{i}" for i in range(max(0, count // 12 - len(names)))]
    path = f"{out_dir}/{eco.replace(' ', '_')}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for _ in range(count):
            cve_counter += 1
            cve = f"CVE-20{rng.randint(10, 26)}-{cve_counter}"
            prefix = {"Debian": "DEBIAN", "Ubuntu": "UBUNTU", "Alpine": "ALPINE", "Red Hat": "RHSA"}.get(eco, "GHSA")
            rid = f"{prefix}-{cve}" if prefix != "GHSA" else f"GHSA-{cve_counter:04x}-{rng.randint(4096, 65535):04x}-x"
            # Image packages get proportionally more records, as real feeds do for glibc, openssl, ...
            name = rng.choice(sorted(image)) if eco == "Debian" and rng.random() < 0.2 else rng.choice(pool)
            affected = []
            for rel in rng.sample(releases, rng.randint(1, len(releases))):
                fixed = deb_fixed(name) if style == "deb" and rel == "Debian:12" else version(style)
                events = [{"introduced": "0"}]
                if rng.random() < 0.9:
                    events.append({"fixed": fixed})
                affected.append({
                    "package": {"ecosystem": rel, "name": name},
                    "ranges": [{"type": "ECOSYSTEM" if style in ("deb", "apk", "rpm") else "SEMVER",
                                "events": events}],
                })
            record = {
                "schema_version": "1.6.0",
                "id": rid,
                "modified": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T00:00:00Z",
                "published": f"20{rng.randint(10, 26)}-{rng.randint(1, 12):02d}-01T00:00:00Z",
                "aliases": [cve],
                "summary": text(6, 14),
                "details": " ".join(text(10, 30) for _ in range(rng.randint(2, 8))),
                "severity": [{"type": "CVSS_V3", "score": rng.choice(CVSS)}],
                "affected": affected,
                "references": [{"type": rng.choice(["ADVISORY", "WEB", "FIX", "REPORT"]),
                                "url": f"https://example.org/{eco.lower()}/{cve}/{i}"}
                               for i in range(rng.randint(2, 4))],
            }
            zf.writestr(f"{rid}.json", json.dumps(record, indent=2))
    print(f"{path}: {count} records")
