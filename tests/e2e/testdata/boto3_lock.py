#!/usr/bin/env python3
"""S3 Object Lock through boto3 against a running Strata server: a bucket
created with Object Lock, a COMPLIANCE version that refuses deletion and
shortening, GOVERNANCE that yields to the root user's bypass but not to a
user without the permission, legal hold, default retention.

Environment: STRATA_ENDPOINT, STRATA_ACCESS_KEY, STRATA_SECRET_KEY (the root
user), STRATA_USER_KEY, STRATA_USER_SECRET (a user without
bypass_governance), STRATA_BUCKET. Exits non-zero on the first mismatch.
"""

import datetime
import os
import sys

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError as e:
    sys.exit("boto3_lock: FAIL: boto3 is not installed (%s)" % e)


def fail(msg):
    print("boto3_lock: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def step(msg):
    print("boto3_lock: " + msg, flush=True)


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response.get("Error", {}).get("Code", ""), \
            e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return None, 200


def client(key, secret):
    return boto3.client(
        "s3", endpoint_url=os.environ["STRATA_ENDPOINT"],
        aws_access_key_id=key, aws_secret_access_key=secret,
        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


root = client(os.environ["STRATA_ACCESS_KEY"], os.environ["STRATA_SECRET_KEY"])
user = client(os.environ["STRATA_USER_KEY"], os.environ["STRATA_USER_SECRET"])
bucket = os.environ["STRATA_BUCKET"]
now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)

step("create a bucket with Object Lock")
root.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
check(root.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled",
      "versioning is not Enabled on a lock bucket")
cfg = root.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
check(cfg.get("ObjectLockEnabled") == "Enabled", "lock configuration %r" % cfg)
code, status = error_code(lambda: root.put_bucket_versioning(
    Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}))
check(code == "InvalidBucketState" and status == 409,
      "suspending versioning of a lock bucket: %s %s" % (code, status))

step("COMPLIANCE: no deletion, no shortening, extension allowed")
until = (now + day).replace(microsecond=0)
out = root.put_object(Bucket=bucket, Key="contract.pdf", Body=b"signed",
                      ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
vid = out["VersionId"]
head = root.head_object(Bucket=bucket, Key="contract.pdf")
check(head.get("ObjectLockMode") == "COMPLIANCE" and head.get("ObjectLockRetainUntilDate") == until,
      "head lock fields %r %r" % (head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")))
ret = root.get_object_retention(Bucket=bucket, Key="contract.pdf", VersionId=vid)["Retention"]
check(ret["Mode"] == "COMPLIANCE" and ret["RetainUntilDate"] == until, "retention %r" % ret)
for who, c in (("root", root), ("user", user)):
    code, status = error_code(lambda: c.delete_object(
        Bucket=bucket, Key="contract.pdf", VersionId=vid, BypassGovernanceRetention=True))
    check(code == "AccessDenied" and status == 403,
          "delete of a COMPLIANCE version by %s: %s %s" % (who, code, status))
code, status = error_code(lambda: root.put_object_retention(
    Bucket=bucket, Key="contract.pdf", VersionId=vid, BypassGovernanceRetention=True,
    Retention={"Mode": "COMPLIANCE", "RetainUntilDate": now + datetime.timedelta(hours=1)}))
check(code == "AccessDenied", "shortening COMPLIANCE: %s %s" % (code, status))
root.put_object_retention(Bucket=bucket, Key="contract.pdf", VersionId=vid,
                          Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until + day})
out = root.delete_object(Bucket=bucket, Key="contract.pdf")
check(out.get("DeleteMarker") is True, "delete without version: %r" % out)
body = root.get_object(Bucket=bucket, Key="contract.pdf", VersionId=vid)["Body"].read()
check(body == b"signed", "the locked version reads %r" % body)

step("GOVERNANCE: bypass by the root user, not by a user without permission")
out = root.put_object(Bucket=bucket, Key="draft.txt", Body=b"draft",
                      ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
gid = out["VersionId"]
code, _ = error_code(lambda: root.delete_object(Bucket=bucket, Key="draft.txt", VersionId=gid))
check(code == "AccessDenied", "GOVERNANCE delete without bypass: %s" % code)
code, _ = error_code(lambda: user.delete_object(Bucket=bucket, Key="draft.txt", VersionId=gid,
                                                BypassGovernanceRetention=True))
check(code == "AccessDenied", "GOVERNANCE delete by a user without permission: %s" % code)
code, _ = error_code(lambda: user.put_object_retention(
    Bucket=bucket, Key="draft.txt", VersionId=gid, BypassGovernanceRetention=True,
    Retention={"Mode": "GOVERNANCE", "RetainUntilDate": now + datetime.timedelta(hours=1)}))
check(code == "AccessDenied", "GOVERNANCE shortening by a user without permission: %s" % code)
root.delete_object(Bucket=bucket, Key="draft.txt", VersionId=gid, BypassGovernanceRetention=True)
code, status = error_code(lambda: root.head_object(Bucket=bucket, Key="draft.txt", VersionId=gid))
check(status == 404, "the bypassed version is still there: %s %s" % (code, status))

step("legal hold")
out = root.put_object(Bucket=bucket, Key="evidence.bin", Body=b"e", ObjectLockLegalHoldStatus="ON")
hid = out["VersionId"]
check(root.get_object_legal_hold(Bucket=bucket, Key="evidence.bin")["LegalHold"]["Status"] == "ON",
      "legal hold not ON")
code, _ = error_code(lambda: root.delete_object(Bucket=bucket, Key="evidence.bin", VersionId=hid,
                                                BypassGovernanceRetention=True))
check(code == "AccessDenied", "delete under legal hold: %s" % code)
root.put_object_legal_hold(Bucket=bucket, Key="evidence.bin", VersionId=hid, LegalHold={"Status": "OFF"})
root.delete_object(Bucket=bucket, Key="evidence.bin", VersionId=hid)

step("default retention")
root.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
rule = root.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]
check(rule["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}, "rule %r" % rule)
code, _ = error_code(lambda: root.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}}))
check(code == "MalformedXML", "Days and Years: %s" % code)
root.put_object(Bucket=bucket, Key="auto.txt", Body=b"a")
head = root.head_object(Bucket=bucket, Key="auto.txt")
left = head["ObjectLockRetainUntilDate"] - now
check(head["ObjectLockMode"] == "GOVERNANCE" and datetime.timedelta(hours=23) < left < datetime.timedelta(hours=25),
      "default retention: %r %r" % (head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")))

step("ok")
