#!/usr/bin/env bash
# Azurite, the Azure Storage emulator, for the tests of backends/azure.
#
#   tests/services/azurite.sh install          install azurite@3.37.0 into tests/node_modules
#                                              (quiet, nothing to do when it is there)
#   tests/services/azurite.sh start [PORT]     install if needed, start the blob service on
#                                              127.0.0.1:PORT (default 10000) with a temp
#                                              --location; prints the endpoint
#   tests/services/azurite.sh stop             stop what start started
#   tests/services/azurite.sh bin              print the path of azurite-blob
#
# Account devstoreaccount1, key
# Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
# The Go tests of backends/azure start their own instance on a free port.
set -euo pipefail

VERSION=3.37.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="$(dirname "$here")" # tests/: node_modules/ there is in .gitignore
bin="$prefix/node_modules/.bin/azurite-blob"
state="${AZURITE_STATE:-${TMPDIR:-/tmp}/strata-azurite}"

# Azurite 3.37 declares Node.js 22; it was seen working on 20.
NODE_MIN=20

check_node() {
	local v
	v="$(node --version 2>/dev/null || echo v0)"
	v="${v#v}"
	if [ "${v%%.*}" -lt "$NODE_MIN" ]; then
		echo "azurite.sh: Azurite $VERSION needs Node.js $NODE_MIN or later (22 recommended), found ${v:-none};" \
			"install a newer one (NodeSource packages, nvm) and run: $0 install" >&2
		exit 1
	fi
}

installed() {
	[ -x "$bin" ] &&
		grep -q "\"version\": \"$VERSION\"" "$prefix/node_modules/azurite/package.json" 2>/dev/null
}

install() {
	installed && return 0
	if ! command -v npm >/dev/null 2>&1; then
		if command -v apt-get >/dev/null 2>&1; then
			sudo=()
			[ "$(id -u)" != 0 ] && sudo=(sudo)
			echo "azurite.sh: installing nodejs and npm with apt-get" >&2
			"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
			"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
		else
			echo "azurite.sh: npm is missing; install Node.js ($NODE_MIN or later) and npm, then run: $0 install" >&2
			exit 1
		fi
	fi
	check_node
	echo "azurite.sh: installing azurite@$VERSION into $prefix/node_modules" >&2
	# --no-save: no package.json or lock file is written into tests/.
	npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund \
		--loglevel=error "azurite@$VERSION" >/dev/null
	installed || { echo "azurite.sh: npm did not install $bin" >&2; exit 1; }
}

start() {
	local port="${1:-10000}"
	install
	mkdir -p "$state"
	if [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null &&
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "http://127.0.0.1:$port/devstoreaccount1"
		return 0
	fi
	local data
	data="$(mktemp -d "$state/data.XXXXXX")"
	"$bin" --blobHost 127.0.0.1 --blobPort "$port" --location "$data" \
		--skipApiVersionCheck --silent >"$state/log" 2>&1 &
	echo $! >"$state/pid"
	echo "$port" >"$state/port"
	echo "$data" >"$state/data"
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "http://127.0.0.1:$port/devstoreaccount1"
			return 0
		fi
		kill -0 "$(cat "$state/pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "azurite.sh: azurite-blob did not listen on 127.0.0.1:$port; log:" >&2
	cat "$state/log" >&2
	stop
	exit 1
}

stop() {
	if [ -f "$state/pid" ]; then
		local pid port
		pid="$(cat "$state/pid")"
		port="$(cat "$state/port" 2>/dev/null || echo 10000)"
		# Azurite saves its state on SIGTERM and closes its port, but its
		# process may linger after that: SIGKILL it then.
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
			sleep 0.1
		done
		sleep 0.2
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$state/pid" "$state/port"
	fi
	if [ -f "$state/data" ]; then
		rm -rf "$(cat "$state/data")"
		rm -f "$state/data"
	fi
}

case "${1:-}" in
install) install ;;
start) start "${2:-}" ;;
stop) stop ;;
bin) install; echo "$bin" ;;
*) echo "usage: $0 install | start [PORT] | stop | bin" >&2; exit 2 ;;
esac
