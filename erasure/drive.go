package erasure

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
		} else if u, err := do(d, "statfs", func() ([2]uint64, error) {
			total, free, err := diskUsage(d.path)
			return [2]uint64{total, free}, err
		}); err == nil {
			st.Total, st.Free, st.Used = u[0], u[1], u[0]-min(u[1], u[0])
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
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reason == "" {
		return "unreachable"
	}
	return d.reason
}
