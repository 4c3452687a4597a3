package erasure

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Drive states in DriveStatus.
const (
	DriveOnline  = "online"
	DriveOffline = "offline"
)

// DriveStatus describes one drive.
type DriveStatus struct {
	Path  string `json:"path"`
	ID    string `json:"id"`
	Set   int    `json:"set"`
	Index int    `json:"index"`
	State string `json:"state"` // DriveOnline or DriveOffline
	// Detail says why a drive is offline.
	Detail string `json:"detail,omitempty"`
	// Total, Free and Used are the bytes of the file system the drive is
	// on (0 when unknown, for example offline).
	Total uint64 `json:"total_bytes"`
	Free  uint64 `json:"free_bytes"`
	Used  uint64 `json:"used_bytes"`
}

// SetStatus describes one erasure set.
type SetStatus struct {
	Index  int `json:"index"`
	Drives int `json:"drives"`
	Online int `json:"online"`
	// ReadQuorum and WriteQuorum are the drives that reads and writes of
	// STANDARD objects need.
	ReadQuorum  int `json:"read_quorum"`
	WriteQuorum int `json:"write_quorum"`
}

// Status describes the store: its layout, drives and healing.
type Status struct {
	Deployment string        `json:"deployment"`
	Parity     int           `json:"parity"`
	RRSParity  int           `json:"rrs_parity"`
	BlockSize  int           `json:"block_size"`
	Sets       []SetStatus   `json:"sets"`
	Drives     []DriveStatus `json:"drives"`
	// HealQueue is the number of objects waiting in the heal queue.
	HealQueue int `json:"heal_queue"`
	// Scanner is the background heal scanner.
	Scanner ScannerStatus `json:"scanner"`
}

// Drives returns the status of every drive, in layout order.
func (s *Store) Drives() []DriveStatus {
	ds := s.allDrives()
	out := make([]DriveStatus, len(ds))
	parallel(len(ds), func(i int) {
		d := ds[i]
		st := DriveStatus{Path: d.path, ID: d.id, Set: d.set, Index: d.index, State: DriveOnline}
		if why := d.offline(); why != "" {
			st.State, st.Detail = DriveOffline, why
		} else if total, free, err := diskUsage(d.path); err == nil {
			st.Total, st.Free, st.Used = total, free, total-min(free, total)
		}
		out[i] = st
	})
	return out
}

// Status returns the store's layout, the state of its drives and the
// length of the heal queue.
func (s *Store) Status() Status {
	st := Status{Deployment: s.deploy, Parity: s.stdParity, RRSParity: s.rrsParity, BlockSize: s.blockSize, Drives: s.Drives()}
	for _, set := range s.sets {
		n := len(set.drives)
		e := erasureInfo{Data: n - s.stdParity, Parity: s.stdParity}
		ss := SetStatus{Index: set.index, Drives: n, ReadQuorum: e.Data, WriteQuorum: writeQuorum(e)}
		for _, d := range st.Drives {
			if d.Set == set.index && d.State == DriveOnline {
				ss.Online++
			}
		}
		st.Sets = append(st.Sets, ss)
	}
	s.healMu.Lock()
	st.HealQueue = len(s.healOrder)
	s.healMu.Unlock()
	st.Scanner = s.ScannerStatus()
	return st
}

// offline says why the drive is out of service, "" when it is in.
func (d *drive) offline() string {
	if d.present() {
		return ""
	}
	fi, err := os.Stat(d.path)
	switch {
	case err != nil:
		return "missing"
	case !fi.IsDir():
		return "not a folder"
	}
	if _, err := os.Stat(filepath.Join(d.path, FormatFile)); errors.Is(err, fs.ErrNotExist) {
		if emptyDir(d.path) {
			return "empty (not formatted yet; a heal formats it)"
		}
		return "not empty and without " + FormatFile
	}
	return "unreadable"
}

// reviveAll brings back every drive that can be.
func (s *Store) reviveAll() {
	ds := s.allDrives()
	parallel(len(ds), func(i int) { s.revive(ds[i]) })
}

// revive brings back a drive that is not present when it can: a folder
// holding this drive's format.json gets its reserved folders again, and an
// empty folder (a replaced or wiped drive) is formatted as this drive, for
// heal to refill. A drive of another deployment or in another place of the
// layout stays out. It returns nil when the drive is present.
func (s *Store) revive(d *drive) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.present() {
		return nil
	}
	fi, err := os.Stat(d.path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", d.path)
	}
	data, err := os.ReadFile(filepath.Join(d.path, FormatFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !emptyDir(d.path) {
			return fmt.Errorf("drive %s is not empty and has no %s: not formatting it", d.path, FormatFile)
		}
		f := driveFormat{Version: FormatVersion, Format: "strata-erasure", Deployment: s.deploy,
			Drive: d.id, Set: d.set, Index: d.index, Sets: s.layout}
		if err := d.writeFormat(&f); err != nil {
			return fmt.Errorf("formatting drive %s: %w", d.path, err)
		}
		s.log().Info("erasure: formatted an empty drive in place of a lost one; a heal refills it", "drive", d.path, "set", d.set, "index", d.index)
		defer s.scanSoon()
	case err != nil:
		return err
	default:
		var f driveFormat
		if err := json.Unmarshal(data, &f); err != nil || f.Format != "strata-erasure" {
			return fmt.Errorf("drive %s: %s is not a Strata erasure drive format", d.path, FormatFile)
		}
		if f.Deployment != s.deploy || f.Drive != d.id || f.Set != d.set || f.Index != d.index {
			return fmt.Errorf("drive %s holds drive %d of set %d of deployment %s, not drive %d of set %d of %s: not using it",
				d.path, f.Index, f.Set, f.Deployment, d.index, d.set, s.deploy)
		}
	}
	for _, dir := range []string{d.sys("tmp"), d.sys("buckets"), d.sys("multipart")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return nil
}
