#!/usr/bin/env python3
"""Server-side encryption through boto3 against a running Strata server over
HTTPS: SSE-S3, SSE-KMS and SSE-C round trips (single PUT, multipart through
upload_file, copy with a changed key), the headers S3 answers with, and the
errors for a missing or wrong customer key.

Environment: STRATA_ENDPOINT, STRATA_ACCESS_KEY, STRATA_SECRET_KEY,
STRATA_BUCKET, STRATA_WORKDIR, STRATA_CA_BUNDLE, STRATA_KMS_KEY.
Exits non-zero with a message on the first mismatch.
"""

import hashlib
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def fail(msg):
    print("boto3_sse: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def code(e):
    return e.response.get("Error", {}).get("Code"), e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def main():
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["STRATA_ENDPOINT"],
        aws_access_key_id=os.environ["STRATA_ACCESS_KEY"],
        aws_secret_access_key=os.environ["STRATA_SECRET_KEY"],
        region_name="us-east-1",
        verify=os.environ["STRATA_CA_BUNDLE"],
        config=Config(s3={"addressing_style": "path"}),
    )
    bucket = os.environ["STRATA_BUCKET"]
    kms_key = os.environ["STRATA_KMS_KEY"]
    work = os.environ["STRATA_WORKDIR"]
    s3.create_bucket(Bucket=bucket)
    data = os.urandom(300 * 1024)

    # SSE-S3
    r = s3.put_object(Bucket=bucket, Key="s3", Body=data, ServerSideEncryption="AES256")
    check(r.get("ServerSideEncryption") == "AES256", "PUT SSE-S3 answer: %r" % r.get("ServerSideEncryption"))
    check(r["ETag"].strip('"') == hashlib.md5(data).hexdigest(), "SSE-S3 ETag is the MD5")
    g = s3.get_object(Bucket=bucket, Key="s3")
    check(g["Body"].read() == data, "GET SSE-S3 data")
    check(g.get("ServerSideEncryption") == "AES256", "GET SSE-S3 header")
    g = s3.get_object(Bucket=bucket, Key="s3", Range="bytes=1000-70000")
    check(g["Body"].read() == data[1000:70001], "ranged GET SSE-S3")

    # SSE-KMS with a key and a context
    r = s3.put_object(Bucket=bucket, Key="kms", Body=data, ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=kms_key)
    check(r.get("ServerSideEncryption") == "aws:kms", "PUT SSE-KMS answer")
    check(kms_key in r.get("SSEKMSKeyId", ""), "PUT SSE-KMS key id: %r" % r.get("SSEKMSKeyId"))
    h = s3.head_object(Bucket=bucket, Key="kms")
    check(h["ContentLength"] == len(data), "HEAD SSE-KMS size %d" % h["ContentLength"])
    check(s3.get_object(Bucket=bucket, Key="kms")["Body"].read() == data, "GET SSE-KMS data")
    try:
        s3.put_object(Bucket=bucket, Key="kms2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
        fail("PUT with an unknown KMS key succeeded")
    except ClientError as e:
        check(code(e)[1] == 400, "unknown KMS key: %r" % (code(e),))

    # SSE-C: single PUT, multipart, copy to a new key, wrong and missing keys
    key = os.urandom(32)
    other = os.urandom(32)
    r = s3.put_object(Bucket=bucket, Key="c", Body=data, SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    check(r.get("SSECustomerAlgorithm") == "AES256", "PUT SSE-C answer")
    g = s3.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    check(g["Body"].read() == data, "GET SSE-C data")
    try:
        s3.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
        fail("GET SSE-C with a wrong key succeeded")
    except ClientError as e:
        check(code(e) == ("AccessDenied", 403), "wrong SSE-C key: %r" % (code(e),))
    try:
        s3.get_object(Bucket=bucket, Key="c")
        fail("GET SSE-C without a key succeeded")
    except ClientError as e:
        check(code(e) == ("InvalidRequest", 400), "missing SSE-C key: %r" % (code(e),))
    try:
        s3.head_object(Bucket=bucket, Key="c")
        fail("HEAD SSE-C without a key succeeded")
    except ClientError as e:
        check(code(e)[1] == 400, "HEAD missing SSE-C key: %r" % (code(e),))

    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(17 * MiB + 5))
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    extra = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    s3.upload_file(big, bucket, "big", ExtraArgs=extra, Config=cfg)
    back = os.path.join(work, "big.back")
    s3.download_file(bucket, "big", back, ExtraArgs=extra, Config=cfg)
    with open(big, "rb") as a, open(back, "rb") as b:
        check(a.read() == b.read(), "multipart SSE-C round trip")

    s3.copy_object(Bucket=bucket, Key="c-copy", CopySource={"Bucket": bucket, "Key": "c"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key,
                   SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    g = s3.get_object(Bucket=bucket, Key="c-copy", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    check(g["Body"].read() == data, "copy re-encrypted with another key")
    try:
        s3.get_object(Bucket=bucket, Key="c-copy", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
        fail("the copy opened with the source's key")
    except ClientError as e:
        check(code(e)[1] == 403, "copy with the old key: %r" % (code(e),))

    # Bucket default encryption
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    check(got["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", "GetBucketEncryption: %r" % got)
    r = s3.put_object(Bucket=bucket, Key="default", Body=b"by default")
    check(r.get("ServerSideEncryption") == "AES256", "bucket default applied")
    s3.delete_bucket_encryption(Bucket=bucket)
    try:
        s3.get_bucket_encryption(Bucket=bucket)
        fail("encryption configuration still there after delete")
    except ClientError as e:
        check(code(e)[0] == "ServerSideEncryptionConfigurationNotFoundError", "after delete: %r" % (code(e),))
    print("boto3_sse: ok")


main()
