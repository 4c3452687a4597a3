// Package mount tests `strata mount` with real kernel mounts: each test
// starts `strata server` over a temp directory and mounts a bucket through
// `strata mount --endpoint ... --foreground` (or --config, in-process), then
// drives it with shell tools and checks the objects through S3.
//
// They need Linux, /dev/fuse, fusermount3 (package fuse3, installed by
// tests/install-deps.sh) and root or a user allowed to mount FUSE. A test
// that cannot mount fails and says why. `make bench-mount` runs the
// benchmark (TestBench, skipped otherwise).
package mount
