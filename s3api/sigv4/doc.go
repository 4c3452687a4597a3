// Package sigv4 verifies AWS Signature Version 4 on S3 requests, as AWS
// documents it for Amazon S3: the Authorization header, presigned URLs
// (query-string authentication), aws-chunked streaming payloads (signed,
// unsigned, with and without trailing headers) and browser POST forms.
//
// # Reading the body
//
// Verify checks everything that can be checked before the body is read and
// returns a Result whose Body yields the decoded payload. What depends on the
// payload is checked while Body is read: the x-amz-content-sha256 hash, each
// chunk signature, the trailer signature and the declared sizes. Memory per
// request stays bounded, so bytes are released before they are known to be
// good: a chunk is streamed as it arrives and its signature is checked when
// its last byte has been read, a whole-payload SHA-256 only at the end of the
// body. A failure is returned from Read, always before io.EOF, and every later
// Read returns it again.
//
// The contract for callers is therefore:
//
//   - treat what Body yields as provisional until Read has returned io.EOF;
//   - publish nothing (no object, no part, no metadata) if Read returned any
//     other error, and answer that error to the client;
//   - read Result.Trailer only after io.EOF.
//
// A body that is never read is never verified; that is fine for requests
// whose payload is ignored, and the reason a handler that uses the payload
// must read it to io.EOF before it acts.
//
// For aws-chunked requests the caller also removes "aws-chunked" from the
// Content-Encoding it stores, as S3 does.
package sigv4
