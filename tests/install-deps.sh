#!/usr/bin/env bash
# Installs what the end-to-end tests need on a Debian/Ubuntu machine, only if
# it is missing: the aws CLI, python3 with boto3, rclone and s3cmd (and gcc
# for the race detector). Idempotent and quiet when everything is there.
set -euo pipefail

missing=()
command -v aws >/dev/null 2>&1 || missing+=(awscli)
python3 -c 'import boto3' >/dev/null 2>&1 || missing+=(python3-boto3)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
# Samba's smbd for backends/smb (tests/services/samba.sh runs it privately).
{ command -v smbd >/dev/null 2>&1 || [ -x /usr/sbin/smbd ]; } || missing+=(samba)
# NFS-Ganesha and rpcbind for backends/nfs (tests/services/ganesha.sh runs them
# in a private network namespace, which needs ip from iproute2).
command -v ganesha.nfsd >/dev/null 2>&1 || missing+=(nfs-ganesha)
ls /usr/lib/*/ganesha/libfsalvfs.so >/dev/null 2>&1 || missing+=(nfs-ganesha-vfs)
{ command -v rpcbind >/dev/null 2>&1 || [ -x /usr/sbin/rpcbind ]; } || missing+=(rpcbind)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# fuse3 (fusermount3) for the kernel mounts of tests/mount, and rsync, which
# they drive through the mount.
command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
# rclone and s3cmd, two clients the end-to-end tests drive.
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v s3cmd >/dev/null 2>&1 || missing+=(s3cmd)

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
	sudo=(sudo)
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "tests/install-deps.sh: missing ${missing[*]} and no apt-get here; install them by hand" >&2
	exit 1
fi
echo "tests/install-deps.sh: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# A python3 earlier in PATH (pyenv, a venv) may still lack boto3.
if ! python3 -c 'import boto3' >/dev/null 2>&1; then
	echo "tests/install-deps.sh: $(command -v python3) still cannot import boto3;" \
		"put /usr/bin first in PATH or run: python3 -m pip install boto3" >&2
	exit 1
fi
