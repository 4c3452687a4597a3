package objectlock

import (
	"bytes"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
)

// Retention modes.
const (
	Governance = "GOVERNANCE"
	Compliance = "COMPLIANCE"
)

// Legal hold states.
const (
	HoldOn  = "ON"
	HoldOff = "OFF"
)

// Sys entries of the layer, kept with each version.
const (
	sysMode  = gateway.SysLock + "mode"  // GOVERNANCE or COMPLIANCE; "" asks to remove (UpdateMeta)
	sysUntil = gateway.SysLock + "until" // RFC 3339 retain-until date
	sysHold  = gateway.SysLock + "hold"  // ON or OFF; absent: never set
)

// TimeFormat is how dates are written in headers and XML, as S3 does.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Retention is the retention of a version; the zero value is none.
type Retention struct {
	Mode  string
	Until time.Time
}

// IsZero reports whether r is no retention.
func (r Retention) IsZero() bool { return r.Mode == "" }

// Active reports whether r protects its version at now.
func (r Retention) Active(now time.Time) bool { return r.Mode != "" && r.Until.After(now) }

func validMode(m string) bool { return m == Governance || m == Compliance }

// RetentionOf reads the retention of a version from its Sys.
func RetentionOf(sys map[string]string) Retention {
	m := sys[sysMode]
	if !validMode(m) {
		return Retention{}
	}
	t, err := time.Parse(time.RFC3339Nano, sys[sysUntil])
	if err != nil {
		return Retention{}
	}
	return Retention{Mode: m, Until: t}
}

// LegalHoldOf reads the legal hold of a version: its state (HoldOn,
// HoldOff) or "" when none was ever set.
func LegalHoldOf(sys map[string]string) string {
	switch v := sys[sysHold]; v {
	case HoldOn, HoldOff:
		return v
	}
	return ""
}

// WithRetention returns sys asking for retention r on a write or an
// UpdateMeta; a zero r on UpdateMeta asks to remove the retention.
func WithRetention(sys map[string]string, r Retention) map[string]string {
	out := maps.Clone(sys)
	if out == nil {
		out = map[string]string{}
	}
	out[sysMode] = r.Mode
	if r.IsZero() {
		delete(out, sysUntil)
	} else {
		out[sysUntil] = r.Until.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// WithLegalHold returns sys asking for a legal hold state (HoldOn,
// HoldOff).
func WithLegalHold(sys map[string]string, state string) map[string]string {
	out := maps.Clone(sys)
	if out == nil {
		out = map[string]string{}
	}
	out[sysHold] = state
	return out
}

// Strip returns sys without the layer's entries: a copy does not take the
// retention or legal hold of its source.
func Strip(sys map[string]string) map[string]string {
	var out map[string]string
	for k, v := range sys {
		if !strings.HasPrefix(k, gateway.SysLock) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// SetHeaders writes the object-lock headers of GET and HEAD.
func SetHeaders(h http.Header, sys map[string]string) {
	if r := RetentionOf(sys); !r.IsZero() {
		h.Set("x-amz-object-lock-mode", r.Mode)
		h.Set("x-amz-object-lock-retain-until-date", r.Until.UTC().Format(TimeFormat))
	}
	if s := LegalHoldOf(sys); s != "" {
		h.Set("x-amz-object-lock-legal-hold", s)
	}
}

// parseDate reads a retain-until date: ISO 8601 / RFC 3339, with or
// without fractional seconds.
func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.000Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func invalid(format string, args ...any) error {
	return backends.Errorf(backends.InvalidArgument, format, args...)
}

// FromHeaders reads the object-lock headers of a PUT, copy or
// CreateMultipartUpload: the retention asked for (zero: none) and the legal
// hold ("" when not given). now is the time dates must be after.
func FromHeaders(h http.Header, now time.Time) (Retention, string, error) {
	var r Retention
	mode, date := h.Get("x-amz-object-lock-mode"), h.Get("x-amz-object-lock-retain-until-date")
	switch {
	case mode == "" && date == "":
	case mode == "" || date == "":
		return r, "", invalid("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied.")
	case !validMode(mode):
		return r, "", invalid("Unknown wormMode directive.")
	default:
		t, ok := parseDate(date)
		if !ok {
			return r, "", invalid("The retain until date must be provided in ISO 8601 format")
		}
		if !t.After(now) {
			return r, "", invalid("The retain until date must be in the future!")
		}
		r = Retention{Mode: mode, Until: t}
	}
	hold := h.Get("x-amz-object-lock-legal-hold")
	switch hold {
	case "", HoldOn, HoldOff:
	default:
		return r, "", invalid("Legal Hold must be either of 'ON' or 'OFF'")
	}
	return r, hold, nil
}

func malformed() error {
	return backends.Errorf(backends.MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
}

// decode reads one XML document into v, with nothing after it.
func decode(data []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return malformed()
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return malformed()
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return malformed()
			}
		case xml.Comment, xml.ProcInst:
		default:
			return malformed()
		}
	}
}

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// ParseRetention reads the body of PutObjectRetention. An empty Retention
// element asks to remove the retention (which only a governance bypass may
// do). now is the time a date must be after.
func ParseRetention(data []byte, now time.Time) (Retention, error) {
	var doc struct {
		XMLName xml.Name `xml:"Retention"`
		Mode    *string  `xml:"Mode"`
		Until   *string  `xml:"RetainUntilDate"`
	}
	if err := decode(data, &doc); err != nil {
		return Retention{}, err
	}
	switch {
	case doc.Mode == nil && doc.Until == nil:
		return Retention{}, nil
	case doc.Mode == nil || doc.Until == nil, !validMode(strings.TrimSpace(*doc.Mode)):
		return Retention{}, malformed()
	}
	t, ok := parseDate(strings.TrimSpace(*doc.Until))
	if !ok {
		return Retention{}, malformed()
	}
	if !t.After(now) {
		return Retention{}, invalid("The retain until date must be in the future!")
	}
	return Retention{Mode: strings.TrimSpace(*doc.Mode), Until: t}, nil
}

// MarshalRetention is the body of GetObjectRetention.
func MarshalRetention(r Retention) []byte {
	out, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"Retention"`
		NS      string   `xml:"xmlns,attr"`
		Mode    string   `xml:"Mode"`
		Until   string   `xml:"RetainUntilDate"`
	}{NS: s3NS, Mode: r.Mode, Until: r.Until.UTC().Format(TimeFormat)})
	return out
}

// ParseLegalHold reads the body of PutObjectLegalHold.
func ParseLegalHold(data []byte) (string, error) {
	var doc struct {
		XMLName xml.Name `xml:"LegalHold"`
		Status  string   `xml:"Status"`
	}
	if err := decode(data, &doc); err != nil {
		return "", err
	}
	switch s := strings.TrimSpace(doc.Status); s {
	case HoldOn, HoldOff:
		return s, nil
	}
	return "", malformed()
}

// MarshalLegalHold is the body of GetObjectLegalHold.
func MarshalLegalHold(state string) []byte {
	out, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"LegalHold"`
		NS      string   `xml:"xmlns,attr"`
		Status  string   `xml:"Status"`
	}{NS: s3NS, Status: state})
	return out
}

// Config is a bucket's ObjectLockConfiguration, the bucket document
// gateway.DocObjectLock.
type Config struct {
	Enabled bool
	// Mode is the default retention's mode, "" for none; Days or Years
	// its length.
	Mode        string
	Days, Years int
}

// ParseConfig reads an ObjectLockConfiguration as AWS validates it:
// MalformedXML for a document that does not validate (ObjectLockEnabled
// other than Enabled, a Rule without DefaultRetention, a mode S3 does not
// know, both or neither of Days and Years), InvalidArgument for a period
// that is not a positive number (at most 36500 days or 100 years).
func ParseConfig(data []byte) (Config, error) {
	var doc struct {
		XMLName xml.Name `xml:"ObjectLockConfiguration"`
		Enabled string   `xml:"ObjectLockEnabled"`
		Rule    *struct {
			Default *struct {
				Mode  string  `xml:"Mode"`
				Days  *string `xml:"Days"`
				Years *string `xml:"Years"`
			} `xml:"DefaultRetention"`
		} `xml:"Rule"`
	}
	if err := decode(data, &doc); err != nil {
		return Config{}, err
	}
	if strings.TrimSpace(doc.Enabled) != "Enabled" {
		return Config{}, malformed()
	}
	c := Config{Enabled: true}
	if doc.Rule == nil {
		return c, nil
	}
	d := doc.Rule.Default
	if d == nil || !validMode(strings.TrimSpace(d.Mode)) || (d.Days == nil) == (d.Years == nil) {
		return Config{}, malformed()
	}
	c.Mode = strings.TrimSpace(d.Mode)
	period := func(v string, max int) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 || n > max {
			return 0, invalid("Default retention period must be a positive integer value.")
		}
		return n, nil
	}
	var err error
	if d.Days != nil {
		c.Days, err = period(*d.Days, 36500)
	} else {
		c.Years, err = period(*d.Years, 100)
	}
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

// Marshal returns the document as stored and as GetObjectLockConfiguration
// answers it.
func (c Config) Marshal() []byte {
	type def struct {
		Mode  string `xml:"Mode"`
		Days  int    `xml:"Days,omitempty"`
		Years int    `xml:"Years,omitempty"`
	}
	type rule struct {
		Default def `xml:"DefaultRetention"`
	}
	doc := struct {
		XMLName xml.Name `xml:"ObjectLockConfiguration"`
		NS      string   `xml:"xmlns,attr"`
		Enabled string   `xml:"ObjectLockEnabled,omitempty"`
		Rule    *rule    `xml:"Rule,omitempty"`
	}{NS: s3NS}
	if c.Enabled {
		doc.Enabled = "Enabled"
	}
	if c.Mode != "" {
		doc.Rule = &rule{def{c.Mode, c.Days, c.Years}}
	}
	out, _ := xml.Marshal(doc)
	return out
}

// Default returns the default retention of a version created at t, zero
// when the configuration has none.
func (c Config) Default(t time.Time) Retention {
	switch {
	case !c.Enabled || c.Mode == "":
		return Retention{}
	case c.Days > 0:
		return Retention{Mode: c.Mode, Until: t.Add(time.Duration(c.Days) * 24 * time.Hour).UTC()}
	default:
		return Retention{Mode: c.Mode, Until: t.AddDate(c.Years, 0, 0).UTC()}
	}
}
