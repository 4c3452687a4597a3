#!/usr/bin/env bash
# NFS-Ganesha (NFSv3 over TCP, FSAL VFS) with rpcbind, for the tests of
# backends/nfs. rpcbind listens on every address whatever it is told, so
# both run inside a private network namespace whose only interface is
# loopback: nothing is reachable from outside, and nothing of the host's
# own rpcbind/NFS is touched.
#
#   tests/services/ganesha.sh install          install nfs-ganesha, nfs-ganesha-vfs, rpcbind,
#                                              iproute2 when missing (needs root or sudo)
#   tests/services/ganesha.sh run CMD [ARG...] (root) in a new network+mount namespace: start
#                                              rpcbind and ganesha on 127.0.0.1 exporting
#                                              $STRATA_GANESHA_DIR/export (a temp dir), run CMD
#                                              there with STRATA_GANESHA_DIR set, stop both
#   tests/services/ganesha.sh restart DIR      (inside run) stop and start ganesha again
#   tests/services/ganesha.sh stop DIR         (inside run) stop ganesha
#
# Inside: NFS on 127.0.0.1:2049, MOUNT on 127.0.0.1:20048, the portmapper on
# 111; the export is mounted by its path ($STRATA_GANESHA_DIR/export), with
# no root squash. The Go test (go test ./backends/nfs/ -run Ganesha) calls
# "run" with its own test binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self="$here/$(basename "${BASH_SOURCE[0]}")"

die() { echo "tests/services/ganesha.sh: $*" >&2; exit 1; }

install() {
	local missing=()
	command -v ganesha.nfsd >/dev/null 2>&1 || missing+=(nfs-ganesha)
	[ -e /usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so ] || ls /usr/lib/*/ganesha/libfsalvfs.so >/dev/null 2>&1 || missing+=(nfs-ganesha-vfs)
	command -v rpcbind >/dev/null 2>&1 || [ -x /usr/sbin/rpcbind ] || missing+=(rpcbind)
	command -v ip >/dev/null 2>&1 || missing+=(iproute2)
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get here; install them by hand"
	echo "tests/services/ganesha.sh: installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# The package starts its own daemons on the host; the tests use none.
	"${sudo[@]}" systemctl disable --now nfs-ganesha rpcbind rpcbind.socket >/dev/null 2>&1 || true
}

# in_private_netns succeeds when loopback is the only network interface.
in_private_netns() { [ "$(ip -o link show | wc -l)" = 1 ]; }

wait_port() { # port seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

start_ganesha() {
	local dir=$1
	rm -f "$dir/ganesha.pid"
	ganesha.nfsd -F -f "$dir/ganesha.conf" -L "$dir/ganesha.log" -p "$dir/ganesha.pid" </dev/null >>"$dir/ganesha.out" 2>&1 &
	echo $! >"$dir/ganesha.ppid"
	if ! wait_port 2049 30 || ! wait_port 20048 10; then
		tail -20 "$dir/ganesha.log" >&2 || true
		die "ganesha did not listen on 127.0.0.1:2049 and :20048 within 40 s (log: $dir/ganesha.log)"
	fi
}

stop_ganesha() {
	local dir=$1 pid
	pid="$(cat "$dir/ganesha.ppid" 2>/dev/null || true)"
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	# PID 1 may reap slowly: wait for the port to close, not for the pid.
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>/dev/tcp/127.0.0.1/2049) 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/ganesha.ppid"
}

inner() { # runs inside the namespaces
	in_private_netns || die "not in a private network namespace; use: $0 run CMD"
	ip link set lo up
	# ganesha resolves Bind_addr through an address on an interface that is up
	ip addr add 10.254.254.1/32 dev lo 2>/dev/null || true
	mount -t tmpfs tmpfs /run
	mkdir -p /run/rpcbind /run/ganesha
	local dir
	dir="$(mktemp -d "${TMPDIR:-/tmp}/strata-ganesha.XXXXXX")"
	mkdir -p "$dir/export" "$dir/recovery"
	chmod 755 "$dir" "$dir/export"
	cat >"$dir/ganesha.conf" <<CONF
NFS_CORE_PARAM {
	Protocols = 3;
	NFS_Port = 2049;
	MNT_Port = 20048;
	Bind_addr = 127.0.0.1;
	Enable_NLM = false;
	Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; RecoveryRoot = "$dir/recovery"; }
EXPORT {
	Export_Id = 1;
	Path = "$dir/export";
	Pseudo = /export;
	Protocols = 3;
	Transports = TCP;
	Access_Type = RW;
	Squash = No_Root_Squash;
	SecType = sys;
	FSAL { Name = VFS; }
}
LOG { Default_Log_Level = WARN; }
CONF
	rpcbind -w -f </dev/null >"$dir/rpcbind.out" 2>&1 &
	local rpcpid=$!
	wait_port 111 10 || die "rpcbind did not start"
	start_ganesha "$dir"
	local rc=0
	STRATA_GANESHA_DIR="$dir" "$@" || rc=$?
	stop_ganesha "$dir"
	kill "$rpcpid" 2>/dev/null || true
	wait "$rpcpid" 2>/dev/null || true
	if [ "$rc" = 0 ]; then rm -rf "$dir"; else echo "tests/services/ganesha.sh: kept $dir" >&2; fi
	return "$rc"
}

cmd="${1:-}"
shift || true
case "$cmd" in
install) install ;;
run)
	[ $# -gt 0 ] || die "usage: $0 run CMD [ARG...]"
	[ "$(id -u)" = 0 ] || die "run needs root (network namespace, tmpfs on /run)"
	command -v ganesha.nfsd >/dev/null 2>&1 || die "NFS-Ganesha is not installed: run $0 install"
	exec unshare -n -m --propagation private "$self" _inner "$@"
	;;
_inner) inner "$@" ;;
restart)
	[ -n "${1:-}" ] || die "usage: $0 restart DIR"
	in_private_netns || die "restart works inside run only"
	stop_ganesha "$1"
	start_ganesha "$1"
	;;
stop)
	[ -n "${1:-}" ] || die "usage: $0 stop DIR"
	stop_ganesha "$1"
	;;
*) sed -n '2,21p' "$self" >&2; exit 2 ;;
esac
