#!/usr/bin/env bash
# bench-erasure.sh: the erasure store's speed on tmpfs drives (issue #3).
#
# 1. Go benchmarks of the store on one core (taskset -c 0, GOMAXPROCS=1):
#    PUT and GET of a 64 MiB object on 4 drives (2+2), beside the raw rate
#    of Reed-Solomon plus HighwayHash in memory, the limit. Run twice: on a
#    plain tmpfs (4 KiB pages) and, when root can mount one, on a tmpfs with
#    huge pages (huge=always), where the kernel's page work is smaller.
# 2. `strata bench` through a server on 4 and on 8 tmpfs drives: PUT and GET
#    of 64 MiB objects, 4 in flight.
#
# Needs go and, for step 1, taskset (util-linux). Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHTIME=${BENCHTIME:-20x}
DURATION=${DURATION:-10s}
work=$(mktemp -d /dev/shm/strata-bench.XXXXXX)
huge=""
server=""
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
	[ -n "$huge" ] && umount "$huge" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go test -c -o "$work/erasure.test" ./erasure
go build -o "$work/strata" ./cmd/strata

run_go() { # $1: where the drives go
	TMPDIR=$1 taskset -c 0 "$work/erasure.test" -test.run '^$' -test.cpu 1 -test.benchtime "$BENCHTIME" \
		-test.benchmem -test.bench 'Put64MiB$|Get64MiB$|RawEncodeHash$|RawEncode$'
}

echo "== Go benchmarks, one core, drives on a plain tmpfs ($work)"
run_go "$work"
if [ "$(id -u)" = 0 ] && mkdir -p "$work/huge" && mount -t tmpfs -o size=4g,huge=always tmpfs "$work/huge" 2>/dev/null; then
	huge="$work/huge"
	echo "== Go benchmarks, one core, drives on a tmpfs with huge pages"
	run_go "$huge"
else
	echo "== (no tmpfs with huge pages: needs root)"
fi

export AWS_ACCESS_KEY_ID=strataadmin AWS_SECRET_ACCESS_KEY=strataadmin
for n in 4 8; do
	rm -rf "$work/drives"
	for i in $(seq "$n"); do mkdir -p "$work/drives/d$i"; done
	addr=127.0.0.1:$((19300 + n))
	"$work/strata" server --address "$addr" --heal-interval off "$work/drives/d{1...$n}" >"$work/server.log" 2>&1 &
	server=$!
	for _ in $(seq 100); do curl -sf "http://$addr/health/ready" >/dev/null && break; sleep 0.1; done
	curl -sf "http://$addr/health/ready" >/dev/null || { cat "$work/server.log"; exit 1; }
	echo "== strata bench, $n tmpfs drives, 64 MiB objects, 4 in flight"
	"$work/strata" bench --endpoint "http://$addr" --size 64MiB --concurrency 4 --objects 8 \
		--duration "$DURATION" --ops put,get
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=""
done
