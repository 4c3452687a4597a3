#!/usr/bin/env python3
"""A boto3 session against a running Strata server, with boto3's default
client configuration (current boto3 computes CRC checksums by default and,
over HTTPS, streams uploads as aws-chunked with a trailing checksum). Only the
addressing style is set (path), as for any S3 server on an IP address.

Environment: STRATA_ENDPOINT, STRATA_ACCESS_KEY, STRATA_SECRET_KEY,
STRATA_BUCKET, STRATA_WORKDIR, and STRATA_CA_BUNDLE for HTTPS.
Exits non-zero with a message on the first mismatch.
"""

import hashlib
import io
import os
import sys

try:
    import boto3
    import botocore
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError as e:  # the Go test checks this first; be clear anyway
    sys.exit("boto3_flow: FAIL: boto3 is not installed (%s); "
             "run `make test` or `apt-get install -y python3-boto3`" % e)

MiB = 1024 * 1024


def fail(msg):
    print("boto3_flow: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def step(msg):
    print("boto3_flow: " + msg, flush=True)


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response.get("Error", {}).get("Code", ""), \
            e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return None, 200


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def main():
    env = os.environ
    endpoint = env["STRATA_ENDPOINT"]
    bucket = env["STRATA_BUCKET"]
    work = env["STRATA_WORKDIR"]
    verify = env.get("STRATA_CA_BUNDLE") or None
    step("boto3 %s, botocore %s, endpoint %s" %
         (boto3.__version__, botocore.__version__, endpoint))

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=env["STRATA_ACCESS_KEY"],
        aws_secret_access_key=env["STRATA_SECRET_KEY"],
        region_name="us-east-1",
        verify=verify,
        config=Config(s3={"addressing_style": "path"}),
    )

    step("create_bucket")
    s3.create_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(bucket in names, "list_buckets %r lacks %s" % (names, bucket))

    step("put_object / get_object / head_object")
    body = b"hello from boto3\n"
    put = s3.put_object(Bucket=bucket, Key="docs/hello.txt", Body=body,
                        ContentType="text/plain",
                        Metadata={"author": "e2e", "lang": "python"})
    md5 = hashlib.md5(body).hexdigest()
    check(put["ETag"] == '"%s"' % md5,
          "put_object ETag %s, want \"%s\"" % (put["ETag"], md5))
    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    data = got["Body"].read()
    check(data == body, "get_object body %r, want %r" % (data, body))
    head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
    check(head["Metadata"] == {"author": "e2e", "lang": "python"},
          "head_object Metadata %r" % head["Metadata"])
    check(head["ContentType"] == "text/plain",
          "head_object ContentType %r" % head["ContentType"])
    check(head["ContentLength"] == len(body),
          "head_object ContentLength %r" % head["ContentLength"])
    check(head["ETag"] == put["ETag"], "head_object ETag %s" % head["ETag"])

    step("get_object ChecksumMode=ENABLED")
    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt",
                        ChecksumMode="ENABLED")
    check(got["Body"].read() == body, "checksum-mode GET body differs")
    sums = {k: v for k, v in got.items() if k.startswith("Checksum")}
    step("  returned %r" % sums)
    check(any(k in sums for k in ("ChecksumCRC32", "ChecksumCRC32C",
                                  "ChecksumCRC64NVME", "ChecksumSHA1",
                                  "ChecksumSHA256")),
          "get_object with ChecksumMode=ENABLED returned no checksum for an "
          "object boto3 uploaded with its default CRC")

    step("put_object from a file object (streamed)")
    blob = os.urandom(3 * MiB + 123)
    s3.put_object(Bucket=bucket, Key="docs/blob.bin", Body=io.BytesIO(blob))
    data = s3.get_object(Bucket=bucket, Key="docs/blob.bin")["Body"].read()
    check(data == blob, "docs/blob.bin: got %d bytes, want %d" %
          (len(data), len(blob)))

    step("get_object Range")
    part = s3.get_object(Bucket=bucket, Key="docs/blob.bin",
                         Range="bytes=10-19")
    check(part["Body"].read() == blob[10:20], "range bytes=10-19 differs")
    check(part["ContentRange"] == "bytes 10-19/%d" % len(blob),
          "ContentRange %r" % part.get("ContentRange"))

    step("list_objects_v2")
    keys = [o["Key"] for o in
            s3.list_objects_v2(Bucket=bucket, Prefix="docs/")["Contents"]]
    check(keys == ["docs/blob.bin", "docs/hello.txt"],
          "list_objects_v2 keys %r" % keys)
    res = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    prefixes = [p["Prefix"] for p in res.get("CommonPrefixes", [])]
    check(prefixes == ["docs/"], "CommonPrefixes %r" % prefixes)

    step("copy_object COPY and REPLACE")
    s3.copy_object(Bucket=bucket, Key="docs/copy.txt",
                   CopySource={"Bucket": bucket, "Key": "docs/hello.txt"})
    h = s3.head_object(Bucket=bucket, Key="docs/copy.txt")
    check(h["Metadata"].get("author") == "e2e",
          "COPY metadata %r" % h["Metadata"])
    s3.copy_object(Bucket=bucket, Key="docs/replaced.txt",
                   CopySource={"Bucket": bucket, "Key": "docs/hello.txt"},
                   MetadataDirective="REPLACE", Metadata={"author": "copy"},
                   ContentType="text/x-copy")
    h = s3.head_object(Bucket=bucket, Key="docs/replaced.txt")
    check(h["Metadata"] == {"author": "copy"},
          "REPLACE metadata %r" % h["Metadata"])
    check(h["ContentType"] == "text/x-copy",
          "REPLACE ContentType %r" % h["ContentType"])
    data = s3.get_object(Bucket=bucket, Key="docs/replaced.txt")["Body"].read()
    check(data == body, "copied body %r" % data)

    step("upload_file 20 MiB (multipart, 8 MiB threshold)")
    cfg = TransferConfig(multipart_threshold=8 * MiB,
                         multipart_chunksize=8 * MiB)
    src = os.path.join(work, "big.bin")
    with open(src, "wb") as f:
        for _ in range(20):
            f.write(os.urandom(MiB))
    s3.upload_file(src, bucket, "big/big.bin", Config=cfg)
    h = s3.head_object(Bucket=bucket, Key="big/big.bin")
    check(h["ContentLength"] == 20 * MiB,
          "big.bin ContentLength %d" % h["ContentLength"])
    check(h["ETag"].strip('"').endswith("-3"),
          "big.bin ETag %s, want a 3-part multipart ETag" % h["ETag"])

    step("download_file")
    dst = os.path.join(work, "big.back")
    s3.download_file(bucket, "big/big.bin", dst, Config=cfg)
    check(sha256_file(src) == sha256_file(dst),
          "downloaded big.bin differs from the uploaded file")

    step("managed copy (multipart UploadPartCopy)")
    s3.copy({"Bucket": bucket, "Key": "big/big.bin"}, bucket,
            "big/copy.bin", Config=cfg)
    dst2 = os.path.join(work, "copy.back")
    s3.download_file(bucket, "big/copy.bin", dst2)
    check(sha256_file(src) == sha256_file(dst2),
          "managed copy of big.bin differs")

    step("delete_object")
    s3.delete_object(Bucket=bucket, Key="docs/copy.txt")
    code, status = error_code(
        lambda: s3.head_object(Bucket=bucket, Key="docs/copy.txt"))
    check(status == 404, "head_object after delete: %s %s" % (code, status))
    code, status = error_code(
        lambda: s3.get_object(Bucket=bucket, Key="docs/copy.txt"))
    check(code == "NoSuchKey", "get_object after delete: %s %s" %
          (code, status))

    step("delete_objects")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    res = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys]})
    deleted = sorted(d["Key"] for d in res.get("Deleted", []))
    check(deleted == sorted(keys), "delete_objects deleted %r, want %r" %
          (deleted, keys))
    check(not res.get("Errors"), "delete_objects errors %r" %
          res.get("Errors"))
    check(s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0,
          "bucket not empty after delete_objects")

    step("delete_bucket")
    s3.delete_bucket(Bucket=bucket)
    code, status = error_code(lambda: s3.head_bucket(Bucket=bucket))
    check(status == 404, "head_bucket after delete: %s %s" % (code, status))

    step("OK")


if __name__ == "__main__":
    try:
        main()
    except ClientError as e:
        fail("unexpected S3 error: %s" % e)
    except botocore.exceptions.BotoCoreError as e:
        fail("unexpected botocore error: %s" % e)
