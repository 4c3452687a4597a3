#!/usr/bin/env python3
"""boto3 and AWS Signature Version 2 against a running Strata server.

  boto3_sigv2.py presign   prints, as one JSON object, presigned URLs and a
                           presigned POST made by a client with boto3's
                           default configuration (which signs them with V2
                           for a custom endpoint); the Go test fetches them.
  boto3_sigv2.py flow      runs put, get, head, list, copy, multipart,
                           tagging, a presigned GET and deletes with
                           Config(signature_version="s3"), checking that
                           every request went out signed with V2.

Environment: STRATA_ENDPOINT, STRATA_ACCESS_KEY, STRATA_SECRET_KEY,
STRATA_BUCKET, STRATA_WORKDIR (flow), STRATA_CA_BUNDLE for HTTPS, and
STRATA_VHOST_DOMAIN: when set, requests are virtual-hosted
(BUCKET.DOMAIN) and every name under DOMAIN resolves to 127.0.0.1.
Exits non-zero with a message on the first mismatch.
"""

import hashlib
import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request

try:
    import boto3
    import botocore
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError as e:  # the Go test checks this first; be clear anyway
    sys.exit("boto3_sigv2: FAIL: boto3 is not installed (%s); "
             "run `make test` or `apt-get install -y python3-boto3`" % e)

MiB = 1024 * 1024


def fail(msg):
    print("boto3_sigv2: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def step(msg):
    print("boto3_sigv2: " + msg, file=sys.stderr, flush=True)


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


def resolve_vhosts(domain):
    """Resolve DOMAIN and every name under it to 127.0.0.1 in this process."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host == domain or host.endswith("." + domain):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo


def client(env, **config):
    s3 = {"addressing_style": "virtual" if env.get("STRATA_VHOST_DOMAIN")
          else "path"}
    return boto3.client(
        "s3",
        endpoint_url=env["STRATA_ENDPOINT"],
        aws_access_key_id=config.pop("access_key", env["STRATA_ACCESS_KEY"]),
        aws_secret_access_key=config.pop("secret_key",
                                         env["STRATA_SECRET_KEY"]),
        region_name="us-east-1",
        verify=env.get("STRATA_CA_BUNDLE") or None,
        config=Config(s3=s3, **config),
    )


def presign(env):
    bucket = env["STRATA_BUCKET"]
    # Only what a custom endpoint needs: no signature_version.
    s3 = client(env)
    out = {"boto3": boto3.__version__, "botocore": botocore.__version__}

    def url(method, key, expires=600, **params):
        return s3.generate_presigned_url(
            method, Params=dict(Bucket=bucket, Key=key, **params),
            ExpiresIn=expires)
    out["get"] = url("get_object", "pre/get.bin")
    out["get_disposition"] = url(
        "get_object", "pre/get.bin",
        ResponseContentDisposition='attachment; filename="x.bin"')
    out["get_short"] = url("get_object", "pre/get.bin", expires=1)
    out["put"] = url("put_object", "pre/put.bin")
    out["put_typed"] = url("put_object", "pre/typed.txt",
                           ContentType="text/plain")
    out["put_short"] = url("put_object", "pre/get.bin", expires=1)
    out["post"] = s3.generate_presigned_post(
        bucket, "post/${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"},
                    ["content-length-range", 1, MiB]],
        ExpiresIn=600)
    print(json.dumps(out))


def flow(env):
    bucket = env["STRATA_BUCKET"]
    work = env["STRATA_WORKDIR"]
    step("boto3 %s, botocore %s, endpoint %s, signature_version s3" %
         (boto3.__version__, botocore.__version__, env["STRATA_ENDPOINT"]))
    s3 = client(env, signature_version="s3")

    sent = []

    def only_v2(request, **kwargs):
        auth = request.headers.get("Authorization", b"")
        if isinstance(auth, bytes):
            auth = auth.decode()
        if not auth.startswith("AWS ") or "X-Amz-Signature" in request.url:
            fail("a request was not signed with V2: %s %s (Authorization %r)"
                 % (request.method, request.url, auth))
        sent.append(request.method)
    s3.meta.events.register("before-send.s3", only_v2)

    step("create_bucket")
    s3.create_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(bucket in names, "list_buckets %r lacks %s" % (names, bucket))
    loc = s3.get_bucket_location(Bucket=bucket)
    check("LocationConstraint" in loc, "get_bucket_location %r" % loc)

    step("put_object / get_object / head_object")
    key = "docs/hello world+\u00fc~!.txt"
    body = b"hello from boto3 with signature version 2\n"
    put = s3.put_object(Bucket=bucket, Key=key, Body=body,
                        ContentType="text/plain",
                        Metadata={"author": "e2e", "lang": "python"})
    md5 = hashlib.md5(body).hexdigest()
    check(put["ETag"] == '"%s"' % md5, "put_object ETag %s" % put["ETag"])
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    check(data == body, "get_object body %r, want %r" % (data, body))
    got = s3.get_object(Bucket=bucket, Key=key,
                        ResponseContentType="application/x-e2e")
    check(got["ContentType"] == "application/x-e2e",
          "ResponseContentType gave %r" % got["ContentType"])
    head = s3.head_object(Bucket=bucket, Key=key)
    check(head["Metadata"] == {"author": "e2e", "lang": "python"},
          "head_object Metadata %r" % head["Metadata"])
    check(head["ContentType"] == "text/plain",
          "head_object ContentType %r" % head["ContentType"])

    step("list_objects_v2 / list_objects")
    s3.put_object(Bucket=bucket, Key="docs/b.txt", Body=b"b")
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"top")
    keys = [o["Key"] for o in
            s3.list_objects_v2(Bucket=bucket, Prefix="docs/")["Contents"]]
    check(keys == ["docs/b.txt", key], "list_objects_v2 keys %r" % keys)
    res = s3.list_objects(Bucket=bucket, Delimiter="/")
    check([p["Prefix"] for p in res.get("CommonPrefixes", [])] == ["docs/"],
          "list_objects CommonPrefixes %r" % res.get("CommonPrefixes"))
    check([o["Key"] for o in res.get("Contents", [])] == ["top.txt"],
          "list_objects Contents %r" % res.get("Contents"))

    step("copy_object")
    s3.copy_object(Bucket=bucket, Key="docs/copy.txt",
                   CopySource={"Bucket": bucket, "Key": key},
                   MetadataDirective="REPLACE", Metadata={"author": "copy"},
                   ContentType="text/x-copy")
    h = s3.head_object(Bucket=bucket, Key="docs/copy.txt")
    check(h["Metadata"] == {"author": "copy"},
          "copy metadata %r" % h["Metadata"])
    check(h["ContentType"] == "text/x-copy", "copy type %r" % h["ContentType"])
    data = s3.get_object(Bucket=bucket, Key="docs/copy.txt")["Body"].read()
    check(data == body, "copied body %r" % data)

    step("tagging")
    s3.put_object_tagging(Bucket=bucket, Key="docs/copy.txt", Tagging={
        "TagSet": [{"Key": "team", "Value": "storage"}]})
    tags = s3.get_object_tagging(Bucket=bucket, Key="docs/copy.txt")["TagSet"]
    check(tags == [{"Key": "team", "Value": "storage"}], "tags %r" % tags)

    step("upload_file 12 MiB (multipart, 5 MiB parts)")
    cfg = TransferConfig(multipart_threshold=5 * MiB,
                         multipart_chunksize=5 * MiB, max_concurrency=2)
    src = os.path.join(work, "big.bin")
    with open(src, "wb") as f:
        for _ in range(12):
            f.write(os.urandom(MiB))
    s3.upload_file(src, bucket, "big/big.bin", Config=cfg)
    h = s3.head_object(Bucket=bucket, Key="big/big.bin")
    check(h["ContentLength"] == 12 * MiB,
          "big.bin ContentLength %d" % h["ContentLength"])
    check(h["ETag"].strip('"').endswith("-3"),
          "big.bin ETag %s, want a 3-part multipart ETag" % h["ETag"])
    dst = os.path.join(work, "big.back")
    s3.download_file(bucket, "big/big.bin", dst, Config=cfg)
    check(sha256_file(src) == sha256_file(dst),
          "downloaded big.bin differs from the uploaded file")
    mpu = s3.create_multipart_upload(Bucket=bucket, Key="big/aborted.bin")
    s3.abort_multipart_upload(Bucket=bucket, Key="big/aborted.bin",
                              UploadId=mpu["UploadId"])

    step("presigned GET from the V2 client, fetched with urllib")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    check("AWSAccessKeyId=" in url and "Signature=" in url,
          "presigned URL is not V2: %s" % url)
    ctx = None
    if env.get("STRATA_CA_BUNDLE"):
        ctx = ssl.create_default_context(cafile=env["STRATA_CA_BUNDLE"])
    with urllib.request.urlopen(url, context=ctx) as resp:
        check(resp.read() == body, "presigned GET body differs")

    step("wrong secret, unknown key")
    bad = client(env, signature_version="s3", secret_key="not-the-secret")
    code, status = error_code(lambda: bad.list_objects_v2(Bucket=bucket))
    check((code, status) == ("SignatureDoesNotMatch", 403),
          "wrong secret: %s %s" % (code, status))
    code, status = error_code(lambda: bad.put_object(
        Bucket=bucket, Key="top.txt", Body=b"overwritten"))
    check((code, status) == ("SignatureDoesNotMatch", 403),
          "wrong secret PUT: %s %s" % (code, status))
    unknown = client(env, signature_version="s3", access_key="nobody-knows")
    code, status = error_code(lambda: unknown.list_objects_v2(Bucket=bucket))
    check((code, status) == ("InvalidAccessKeyId", 403),
          "unknown key: %s %s" % (code, status))
    data = s3.get_object(Bucket=bucket, Key="top.txt")["Body"].read()
    check(data == b"top", "top.txt changed by a refused PUT: %r" % data)

    step("delete_object / delete_objects / delete_bucket")
    s3.delete_object(Bucket=bucket, Key="top.txt")
    code, status = error_code(
        lambda: s3.head_object(Bucket=bucket, Key="top.txt"))
    check(status == 404, "head_object after delete: %s %s" % (code, status))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    res = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys]})
    deleted = sorted(d["Key"] for d in res.get("Deleted", []))
    check(deleted == sorted(keys), "delete_objects deleted %r of %r" %
          (deleted, keys))
    check(not res.get("Errors"), "delete_objects errors %r" %
          res.get("Errors"))
    s3.delete_bucket(Bucket=bucket)
    code, status = error_code(lambda: s3.head_bucket(Bucket=bucket))
    check(status == 404, "head_bucket after delete: %s %s" % (code, status))
    step("ok: %d requests, all signed with V2" % len(sent))


def main():
    env = os.environ
    if env.get("STRATA_VHOST_DOMAIN"):
        resolve_vhosts(env["STRATA_VHOST_DOMAIN"])
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "presign":
        presign(env)
    elif mode == "flow":
        flow(env)
    else:
        sys.exit("usage: boto3_sigv2.py presign|flow")


if __name__ == "__main__":
    main()
