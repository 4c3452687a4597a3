// The AWS SDK for JavaScript v3 against a Strata server (TestJSSDK):
// S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Exits 1 on the
// first check that fails.
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, CopyObjectCommand, DeleteObjectsCommand, GetObjectAttributesCommand,
  PutObjectTaggingCommand, GetObjectTaggingCommand, DeleteBucketCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import crypto from "node:crypto";
import assert from "node:assert/strict";

const c = new S3Client({
  endpoint: process.env.S3_ENDPOINT, region: "us-east-1", forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
});
const B = "js-sdk-flow";
const bytes = async (out) => Buffer.from(await out.Body.transformToByteArray());
const step = async (name, f) => {
  try {
    await f();
    console.log("ok  ", name);
  } catch (e) {
    console.log("FAIL", name, e.name, e.message);
    process.exit(1);
  }
};

await step("CreateBucket", () => c.send(new CreateBucketCommand({ Bucket: B })));
await step("PutObject with the SDK's default CRC32", async () => {
  const r = await c.send(new PutObjectCommand({ Bucket: B, Key: "a.txt", Body: "hello" }));
  assert.ok(r.ChecksumCRC32, "no CRC32 in the answer");
});
await step("PutObject with SHA-256, HEAD with checksum mode", async () => {
  const r = await c.send(new PutObjectCommand({ Bucket: B, Key: "b.txt", Body: "hello", ChecksumAlgorithm: "SHA256" }));
  const h = await c.send(new HeadObjectCommand({ Bucket: B, Key: "b.txt", ChecksumMode: "ENABLED" }));
  assert.equal(h.ChecksumSHA256, r.ChecksumSHA256);
  assert.equal(h.ChecksumSHA256, crypto.createHash("sha256").update("hello").digest("base64"));
});
await step("GetObject with checksum validation", async () => {
  const r = await c.send(new GetObjectCommand({ Bucket: B, Key: "a.txt", ChecksumMode: "ENABLED" }));
  assert.equal(await r.Body.transformToString(), "hello");
});
const big = crypto.randomBytes(17 * 1024 * 1024 + 3);
await step("lib-storage Upload (multipart, 4 parts)", async () => {
  const u = new Upload({ client: c, params: { Bucket: B, Key: "big.bin", Body: big }, partSize: 5 * 1024 * 1024, queueSize: 3 });
  const r = await u.done();
  assert.match(r.ETag, /-4"$/);
  assert.ok(big.equals(await bytes(await c.send(new GetObjectCommand({ Bucket: B, Key: "big.bin" })))), "bytes differ");
});
await step("ranged GET across a part boundary", async () => {
  const r = await c.send(new GetObjectCommand({ Bucket: B, Key: "big.bin", Range: "bytes=5242878-5242887" }));
  assert.ok(big.subarray(5242878, 5242888).equals(await bytes(r)));
  assert.equal(r.ContentRange, `bytes 5242878-5242887/${big.length}`);
});
await step("multipart with CRC32C, GetObjectAttributes", async () => {
  const u = new Upload({ client: c, params: { Bucket: B, Key: "big2.bin", Body: big, ChecksumAlgorithm: "CRC32C" }, partSize: 5 * 1024 * 1024 });
  const r = await u.done();
  assert.match(r.ChecksumCRC32C, /-4$/);
  const a = await c.send(new GetObjectAttributesCommand({ Bucket: B, Key: "big2.bin", ObjectAttributes: ["Checksum", "ObjectParts", "ObjectSize"] }));
  assert.equal(a.ObjectParts.TotalPartsCount, 4);
  assert.equal(a.ObjectSize, big.length);
  assert.equal(a.Checksum.ChecksumCRC32C, r.ChecksumCRC32C.replace(/-4$/, ""));
});
await step("CopyObject and tagging", async () => {
  await c.send(new CopyObjectCommand({ Bucket: B, Key: "c.txt", CopySource: `${B}/a.txt` }));
  await c.send(new PutObjectTaggingCommand({ Bucket: B, Key: "c.txt", Tagging: { TagSet: [{ Key: "k", Value: "v" }] } }));
  const t = await c.send(new GetObjectTaggingCommand({ Bucket: B, Key: "c.txt" }));
  assert.deepEqual(t.TagSet, [{ Key: "k", Value: "v" }]);
});
await step("ListObjectsV2", async () => {
  const r = await c.send(new ListObjectsV2Command({ Bucket: B }));
  assert.deepEqual(r.Contents.map((o) => o.Key), ["a.txt", "b.txt", "big.bin", "big2.bin", "c.txt"]);
});
await step("presigned GET and PUT", async () => {
  const g = await fetch(await getSignedUrl(c, new GetObjectCommand({ Bucket: B, Key: "a.txt" }), { expiresIn: 60 }));
  assert.equal(g.status, 200);
  assert.equal(await g.text(), "hello");
  const p = await fetch(await getSignedUrl(c, new PutObjectCommand({ Bucket: B, Key: "p.txt" }), { expiresIn: 60 }), { method: "PUT", body: "via url" });
  assert.equal(p.status, 200);
  assert.equal(await (await c.send(new GetObjectCommand({ Bucket: B, Key: "p.txt" }))).Body.transformToString(), "via url");
});
await step("DeleteObjects and DeleteBucket", async () => {
  const keys = ["a.txt", "b.txt", "big.bin", "big2.bin", "c.txt", "p.txt"];
  const r = await c.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  assert.equal((r.Deleted || []).length, keys.length);
  assert.equal((r.Errors || []).length, 0);
  await c.send(new DeleteBucketCommand({ Bucket: B }));
});
