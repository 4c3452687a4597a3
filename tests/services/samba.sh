#!/usr/bin/env bash
# Samba's smbd on loopback with a private configuration, for the tests of
# backends/smb. Nothing under /etc is touched: the configuration, state,
# password database and the share itself live under DIR.
#
#   tests/services/samba.sh install                 apt-get install samba when smbd is missing
#   tests/services/samba.sh setup DIR [PORT]        write DIR/smb.conf (port 4450 by default),
#                                                   make DIR/share, add the SMB user
#   tests/services/samba.sh start DIR [PORT]        setup, then start smbd in the background
#                                                   (pid in DIR/smbd.pid, log in DIR/smbd.log)
#   tests/services/samba.sh stop DIR                stop what start started
#
# The share is "data", the user "strata" with the password in SMB_PASSWORD
# (default "strata-pass"). Extra [global] lines come from SAMBA_GLOBAL, e.g.
# SAMBA_GLOBAL=$'server signing = mandatory\nsmb encrypt = required'.
# smbd must run as root (it switches to the user of each session).
# The Go tests of backends/smb call "setup" and run smbd themselves.
set -euo pipefail

USER_NAME=strata
PASS="${SMB_PASSWORD:-strata-pass}"

install() {
	command -v smbd >/dev/null 2>&1 && command -v smbpasswd >/dev/null 2>&1 && return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "samba.sh: smbd is missing and there is no apt-get; install Samba (4.17 or later) by hand" >&2
		exit 1
	fi
	sudo=()
	[ "$(id -u)" != 0 ] && sudo=(sudo)
	echo "samba.sh: installing samba with apt-get" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends samba >/dev/null
}

smbd_bin() {
	command -v smbd 2>/dev/null || echo /usr/sbin/smbd
}

setup() {
	local dir="$1" port="${2:-4450}"
	[ -n "$dir" ] || { echo "usage: $0 setup DIR [PORT]" >&2; exit 2; }
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	mkdir -p "$dir/state" "$dir/cache" "$dir/private" "$dir/lock" "$dir/pid" "$dir/ncalrpc" "$dir/share"
	cat >"$dir/smb.conf" <<CONF
[global]
  server role = standalone server
  smb ports = $port
  interfaces = 127.0.0.1
  bind interfaces only = yes
  state directory = $dir/state
  cache directory = $dir/cache
  lock directory = $dir/lock
  pid directory = $dir/pid
  private dir = $dir/private
  ncalrpc dir = $dir/ncalrpc
  log file = $dir/log.%m
  passdb backend = tdbsam:$dir/private/passdb.tdb
  server min protocol = SMB2
  disable netbios = yes
  load printers = no
  printing = bsd
  printcap name = /dev/null
${SAMBA_GLOBAL:-}
[data]
  path = $dir/share
  read only = no
  force user = root
CONF
	if ! id "$USER_NAME" >/dev/null 2>&1; then
		useradd -M -s /usr/sbin/nologin "$USER_NAME" 2>/dev/null || useradd -M "$USER_NAME"
	fi
	local pw
	pw="$(command -v smbpasswd 2>/dev/null || echo /usr/bin/smbpasswd)"
	printf '%s\n%s\n' "$PASS" "$PASS" | "$pw" -c "$dir/smb.conf" -s -a "$USER_NAME" >/dev/null
	echo "$dir/smb.conf"
}

start() {
	local dir="$1" port="${2:-4450}"
	install
	setup "$dir" "$port" >/dev/null
	dir="$(cd "$dir" && pwd)"
	setsid "$(smbd_bin)" -F --no-process-group -s "$dir/smb.conf" --debug-stdout >"$dir/smbd.log" 2>&1 &
	echo $! >"$dir/smbd.pid"
	for _ in $(seq 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "smb://$USER_NAME@127.0.0.1:$port/data"
			return 0
		fi
		sleep 0.1
	done
	echo "samba.sh: smbd did not listen on 127.0.0.1:$port; see $dir/smbd.log" >&2
	exit 1
}

stop() {
	local dir="$1"
	[ -f "$dir/smbd.pid" ] || return 0
	local pid
	pid="$(cat "$dir/smbd.pid")"
	# setsid made smbd the leader of its own process group, which holds its
	# children and samba-dcerpcd.
	kill -TERM -- "-$pid" 2>/dev/null || true
	rm -f "$dir/smbd.pid"
}

case "${1:-}" in
install) install ;;
setup) shift; setup "$@" ;;
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) echo "usage: $0 install | setup DIR [PORT] | start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
