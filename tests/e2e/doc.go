// Package e2e holds end-to-end tests: they build the strata binary once,
// start it as a real process over a fresh temp directory, and drive it with
// real clients (aws-sdk-go-v2, the aws CLI, boto3) and with hand-signed HTTP
// requests for the cases a well-behaved SDK never sends.
//
// Run them with `go test -count=1 ./tests/...` (or `make test`). Tools the
// tests need (aws, python3 with boto3) are installed by `make test`; a test
// whose tool is missing fails and says how to install it.
package e2e
