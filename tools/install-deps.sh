#!/bin/sh
# Installs, on Debian 12 as root, every package that segd's build, tests,
# demo and benchmarks need. Idempotent: does nothing when all are present.
set -eu
PKGS="build-essential pkg-config libnftnl-dev libmnl-dev libpcap-dev libconfig-dev
libsystemd-dev check nftables iproute2 tcpdump clang libclang-rt-14-dev valgrind
socat python3 iputils-ping ncat systemd jq procps util-linux man-db
iperf3
chromium fonts-noto-cjk faketime"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing — run as root: tools/install-deps.sh" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
