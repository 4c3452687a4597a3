package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/erasure"
)

// ellipsis matches {1...8} in a drive pattern.
var ellipsis = regexp.MustCompile(`\{(\d+)\.\.\.(\d+)\}`)

// expandDrives expands /mnt/disk{1...8} patterns into paths; several
// patterns in one argument multiply out, left to right.
func expandDrives(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		paths := []string{a}
		for {
			m := ellipsis.FindStringSubmatchIndex(paths[0])
			if m == nil {
				break
			}
			lo, _ := strconv.Atoi(paths[0][m[2]:m[3]])
			hi, _ := strconv.Atoi(paths[0][m[4]:m[5]])
			if hi < lo || hi-lo > 1024 {
				return nil, fmt.Errorf("drive pattern %s: bad range {%d...%d}", a, lo, hi)
			}
			var next []string
			for _, p := range paths {
				m := ellipsis.FindStringSubmatchIndex(p)
				for i := lo; i <= hi; i++ {
					next = append(next, p[:m[0]]+strconv.Itoa(i)+p[m[1]:])
				}
			}
			paths = next
		}
		out = append(out, paths...)
	}
	seen := map[string]bool{}
	for _, p := range out {
		if seen[p] {
			return nil, fmt.Errorf("drive %s is given twice", p)
		}
		seen[p] = true
	}
	return out, nil
}

// erasureOptions reads the parity of the storage classes from the flags
// and STRATA_STORAGE_CLASS_STANDARD / STRATA_STORAGE_CLASS_RRS (EC:N).
func erasureOptions(f serverFlags) (erasure.Options, error) {
	var opts erasure.Options
	parse := func(name string) (int, error) {
		v := os.Getenv(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(strings.TrimPrefix(v, "EC:"))
		if err != nil || !strings.HasPrefix(v, "EC:") || n < 0 {
			return 0, fmt.Errorf("%s=%q: expected EC:N with N the parity drives", name, v)
		}
		return n, nil
	}
	std, err := parse("STRATA_STORAGE_CLASS_STANDARD")
	if err != nil {
		return opts, err
	}
	rrs, err := parse("STRATA_STORAGE_CLASS_RRS")
	if err != nil {
		return opts, err
	}
	opts.Parity, opts.RRSParity = std, rrs
	if f.parity > 0 {
		opts.Parity = f.parity
	}
	if opts.ScanInterval, err = durationSetting(f.healInterval, "--heal-interval", "STRATA_HEAL_INTERVAL", defaultHealInterval); err != nil {
		return opts, err
	}
	if opts.DriveTimeout, err = durationSetting(f.driveTimeout, "--drive-timeout", "STRATA_DRIVE_TIMEOUT", erasure.DefaultDriveTimeout); err != nil {
		return opts, err
	}
	if opts.DriveTimeout == 0 {
		return opts, errors.New("--drive-timeout: a drive call needs a deadline (for example 30s)")
	}
	return opts, nil
}

// defaultHealInterval is how often the heal scanner walks every object.
const defaultHealInterval = 24 * time.Hour

// durationSetting reads a duration flag, or its environment variable when
// the flag is not given, def when neither is; "off" is 0.
func durationSetting(flag, name, env string, def time.Duration) (time.Duration, error) {
	v, from := flag, name
	if v == "" {
		v, from = os.Getenv(env), env
	}
	switch v = strings.TrimSpace(v); v {
	case "":
		return def, nil
	case "off", "0":
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 12h or 90m (or off)", from, v)
	}
	return d, nil
}
