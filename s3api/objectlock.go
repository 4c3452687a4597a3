package s3api

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/objectlock"
	"github.com/strata-storage/strata/gateway/versioning"
	"github.com/strata-storage/strata/s3api/s3err"
)

var (
	errNoObjectLock       = &s3err.APIError{Code: "NoSuchObjectLockConfiguration", Status: http.StatusNotFound, Message: "The specified object does not have a ObjectLock configuration."}
	errNoBucketLock       = notConfigured("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket.")
	errBucketMissingLock  = s3err.ErrInvalidRequest.WithMessage("Bucket is missing Object Lock Configuration") // AWS words it so here, and "ObjectLockConfiguration" on PUT
	errMissingBody        = &s3err.APIError{Code: "MissingRequestBodyError", Status: http.StatusBadRequest, Message: "Request Body is empty"}
	errLockNotImplemented = s3err.ErrNotImplemented.WithMessage("Object Lock needs the versioning layer, which this server does not have.")
)

// canBypass reports whether the request asks to bypass GOVERNANCE
// retention and its caller may.
func (s *Server) canBypass(r *http.Request, accessKey string) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("x-amz-bypass-governance-retention")), "true") &&
		s.cfg.CanBypassGovernance != nil && s.cfg.CanBypassGovernance(accessKey)
}

// lockHeaders puts the object-lock headers of a PUT, copy or
// CreateMultipartUpload into meta.Sys for the object-lock layer.
func (q *request) lockHeaders(meta *backends.Meta) error {
	r, hold, err := objectlock.FromHeaders(q.Header, q.s.cfg.Now())
	if err != nil {
		return err
	}
	if !r.IsZero() {
		meta.Sys = objectlock.WithRetention(meta.Sys, r)
	}
	if hold != "" {
		meta.Sys = objectlock.WithLegalHold(meta.Sys, hold)
	}
	return nil
}

// lockConfig returns the bucket's Object Lock configuration (zero when it
// has none).
func (s *Server) lockConfig(ctx context.Context, bucket string) (objectlock.Config, error) {
	data, err := s.gw.GetBucketConfig(ctx, bucket, gateway.DocObjectLock)
	if backends.Is(err, backends.NotFound) {
		return objectlock.Config{}, nil
	}
	if err != nil {
		return objectlock.Config{}, err
	}
	return objectlock.ParseConfig(data)
}

// enableObjectLock turns versioning and Object Lock on for a new bucket
// (CreateBucket with x-amz-bucket-object-lock-enabled: true).
func (s *Server) enableObjectLock(ctx context.Context, bucket string) error {
	if err := s.gw.PutBucketConfig(ctx, bucket, gateway.DocVersioning, versioning.ConfigDoc(versioning.Enabled)); err != nil {
		return err
	}
	return s.gw.PutBucketConfig(ctx, bucket, gateway.DocObjectLock, objectlock.Config{Enabled: true}.Marshal())
}

func (s *Server) getObjectLockConfiguration(q *request) {
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	cfg, err := s.lockConfig(q.ctx(), q.bucket())
	if err != nil {
		q.fail(err)
		return
	}
	if !cfg.Enabled {
		q.fail(errNoBucketLock)
		return
	}
	writeRaw(q.w, cfg.Marshal())
}

func (s *Server) putObjectLockConfiguration(q *request) {
	if _, ok := s.versioner(); !ok {
		q.fail(errLockNotImplemented)
		return
	}
	data, err := readBody(q, 64<<10)
	if err != nil {
		q.fail(err)
		return
	}
	if len(data) == 0 {
		q.fail(errMissingBody)
		return
	}
	cfg, err := objectlock.ParseConfig(data)
	if err != nil {
		q.fail(err)
		return
	}
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		q.fail(err)
		return
	}
	if err := s.gw.PutBucketConfig(q.ctx(), q.bucket(), gateway.DocObjectLock, cfg.Marshal()); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusOK)
}

// lockedObject returns the object (the version the request names) after
// checking that it exists and that its bucket has Object Lock.
func (s *Server) lockedObject(q *request, check func() error) (backends.ObjectInfo, error) {
	if err := q.versionParam(); err != nil {
		return backends.ObjectInfo{}, err
	}
	if _, err := s.gw.HeadBucket(q.ctx(), q.bucket()); err != nil {
		return backends.ObjectInfo{}, err
	}
	if check != nil {
		// The request's document, checked before the object is looked
		// for, as AWS does: a bad one is its error whatever the object.
		if err := check(); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	// A missing object is NoSuchKey even in a bucket without Object
	// Lock, as on AWS; an object there is InvalidRequest.
	info, err := s.gw.HeadObject(q.ctx(), q.bucket(), q.key())
	if err != nil {
		return info, err
	}
	cfg, err := s.lockConfig(q.ctx(), q.bucket())
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if !cfg.Enabled {
		return backends.ObjectInfo{}, errBucketMissingLock
	}
	return info, nil
}

func (s *Server) getObjectRetention(q *request) {
	info, err := s.lockedObject(q, nil)
	if err != nil {
		q.fail(err)
		return
	}
	r := objectlock.RetentionOf(info.Sys)
	if r.IsZero() {
		q.fail(errNoObjectLock)
		return
	}
	setVersionID(q.w.Header(), info.VersionID)
	writeRaw(q.w, objectlock.MarshalRetention(r))
}

func (s *Server) getObjectLegalHold(q *request) {
	info, err := s.lockedObject(q, nil)
	if err != nil {
		q.fail(err)
		return
	}
	hold := objectlock.LegalHoldOf(info.Sys)
	if hold == "" {
		q.fail(errNoObjectLock)
		return
	}
	setVersionID(q.w.Header(), info.VersionID)
	writeRaw(q.w, objectlock.MarshalLegalHold(hold))
}

func (s *Server) putObjectRetention(q *request) {
	s.changeLock(q, func(data []byte, sys map[string]string) (map[string]string, error) {
		r, err := objectlock.ParseRetention(data, s.cfg.Now())
		if err != nil {
			return nil, err
		}
		return objectlock.WithRetention(sys, r), nil
	})
}

func (s *Server) putObjectLegalHold(q *request) {
	s.changeLock(q, func(data []byte, sys map[string]string) (map[string]string, error) {
		hold, err := objectlock.ParseLegalHold(data)
		if err != nil {
			return nil, err
		}
		return objectlock.WithLegalHold(sys, hold), nil
	})
}

// changeLock changes an object's retention or legal hold: the layer checks
// that the change is allowed.
func (s *Server) changeLock(q *request, change func(body []byte, sys map[string]string) (map[string]string, error)) {
	data, err := readBody(q, 64<<10)
	if err != nil {
		q.fail(err)
		return
	}
	info, err := s.lockedObject(q, func() error {
		_, err := change(data, nil)
		return err
	})
	if err != nil {
		q.fail(err)
		return
	}
	meta := info.Meta
	if meta.Sys, err = change(data, meta.Sys); err != nil {
		q.fail(err)
		return
	}
	out, err := s.gw.UpdateMeta(q.ctx(), q.bucket(), q.key(), meta)
	if err != nil {
		q.fail(err)
		return
	}
	setVersionID(q.w.Header(), out.VersionID)
	q.w.WriteHeader(http.StatusOK)
}

// writeRaw answers 200 with an XML document.
func writeRaw(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	w.Write(doc)
}
