#!/usr/bin/env bash
# The AWS SDK for JavaScript v3, for tests/e2e (TestJSSDK).
#
#   tests/services/jssdk.sh install   install @aws-sdk/client-s3, lib-storage and
#                                     s3-request-presigner (pinned) into
#                                     tests/jssdk/node_modules (quiet, nothing to
#                                     do when they are there)
#   tests/services/jssdk.sh dir       print the folder whose node_modules holds them
#
# A folder of its own: npm prunes packages it did not record, so installing
# next to azurite (tests/node_modules) would remove one or the other.
set -euo pipefail

VERSION=3.1175.0
PRESIGNER=3.1169.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="$(dirname "$here")/jssdk" # in .gitignore

installed() {
	grep -q "\"version\": \"$VERSION\"" "$prefix/node_modules/@aws-sdk/client-s3/package.json" 2>/dev/null &&
		grep -q "\"version\": \"$VERSION\"" "$prefix/node_modules/@aws-sdk/lib-storage/package.json" 2>/dev/null &&
		grep -q "\"version\": \"$PRESIGNER\"" "$prefix/node_modules/@aws-sdk/s3-request-presigner/package.json" 2>/dev/null
}

install() {
	installed && return 0
	if ! command -v npm >/dev/null 2>&1; then
		# azurite.sh installs Node.js and npm with apt-get when they are missing.
		"$here/azurite.sh" install
	fi
	mkdir -p "$prefix"
	echo "jssdk.sh: installing @aws-sdk/client-s3@$VERSION into $prefix/node_modules" >&2
	npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
		"@aws-sdk/client-s3@$VERSION" "@aws-sdk/lib-storage@$VERSION" "@aws-sdk/s3-request-presigner@$PRESIGNER" >/dev/null
	installed || { echo "jssdk.sh: npm did not install the SDK" >&2; exit 1; }
}

case "${1:-}" in
install) install ;;
dir) echo "$prefix" ;;
*)
	echo "usage: $0 install|dir" >&2
	exit 2
	;;
esac
