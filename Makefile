# Strata: build, run and test. `make run` and `make test` are the two
# commands a newcomer needs; the rest are their parts.

GO      ?= go
BIN     ?= bin/strata
DATA    ?= ./data
ADDRESS ?= 127.0.0.1:9000

# Every Go file of the project, for the gofmt check.
GOFILES = $(shell find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -not -path './.tmp/*')

.PHONY: all build run test deps fmt-check vet cross unit e2e bench bench-mount bench-erasure bench-backends clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/strata

## run: build, then serve ./data on 127.0.0.1:9000 (credentials are printed).
## Unless a KMS is configured (STRATA_KMS_*), it makes a master key for the
## built-in KMS in ./kms.key on the first run, so that SSE-S3 and SSE-KMS
## work out of the box; in production keep the key apart from the data
## (docs/kms.md).
KMS_KEY ?= ./kms.key
# The server's environment for the built-in KMS: empty when one is set.
KMS_ENV = $(if $(STRATA_KMS_SECRET_KEY)$(STRATA_KMS_SECRET_KEY_FILE)$(STRATA_KMS_VAULT_ENDPOINT),,STRATA_KMS_SECRET_KEY_FILE=$(KMS_KEY))
run: build
	@mkdir -p $(DATA)
	@$(if $(KMS_ENV),[ -f $(KMS_KEY) ] || { (umask 077; echo "strata-dev-key:$$(head -c 32 /dev/urandom | base64)" > $(KMS_KEY)); \
		echo "make run: made a KMS master key in $(KMS_KEY) (SSE-S3, SSE-KMS; see docs/kms.md)"; })
	$(KMS_ENV) $(BIN) server --address $(ADDRESS) $(DATA)

## test: everything CI runs.
test: deps fmt-check vet cross unit e2e

## deps: install what the tests need (aws CLI, boto3, rclone, s3cmd, Azurite,
## the JavaScript SDK) when missing.
deps:
	@./tests/install-deps.sh
	@./tests/services/azurite.sh install
	@./tests/services/jssdk.sh install

fmt-check:
	@files="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

## cross: the server must build for Windows too.
cross:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/strata

## unit: unit tests with the race detector.
## unit: every package under the race detector. backends/gcs runs
## fake-gcs-server inside the test process, instrumented too: about 7 minutes
## of 2 shared cores, near go test's default limit of 10 per package.
unit:
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /tests/)

## e2e: the built binary driven by real clients (see tests/e2e), and real
## FUSE mounts (tests/mount: needs /dev/fuse and fusermount3, and root).
e2e:
	$(GO) test -count=1 -timeout 20m ./tests/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./s3api/ ./backends/dir/

## bench-mount: strata mount against direct S3 on a local Strata (MiB/s,
## ls -l of 10,000 files, small-file creates); STRATA_MOUNT_BENCH_MIB sets
## the large file's size (default 1024).
bench-mount:
	STRATA_MOUNT_BENCH=1 $(GO) test -count=1 -timeout 30m -run '^TestBench$$' -v ./tests/mount/

## bench-erasure: the erasure store on tmpfs drives (tests/bench-erasure.sh):
## Go benchmarks on one core beside the raw Reed-Solomon + HighwayHash rate,
## on a plain tmpfs and (as root) one with huge pages, then strata bench on 4
## and 8 drives.
bench-erasure:
	./tests/bench-erasure.sh

## bench-backends: strata bench through a server over each backend (dir,
## Moto, Azurite, fake-gcs-server, Samba, NFS-Ganesha) beside the same load
## sent to the backend directly; STRATA_BACKEND_BENCH_ONLY=azure,gcs picks.
bench-backends:
	STRATA_BACKEND_BENCH=1 $(GO) test -count=1 -timeout 30m -run '^TestBenchBackends$$' -v ./tests/e2e/

clean:
	rm -rf bin
