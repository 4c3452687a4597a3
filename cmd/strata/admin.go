package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/strata-storage/strata/erasure"
	"github.com/strata-storage/strata/gateway/bitrot"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/s3api/admin"
)

const defaultEndpoint = "http://127.0.0.1:9000"

const adminEnvHelp = `Environment:
  STRATA_ENDPOINT                      like --endpoint (default ` + defaultEndpoint + `)
  STRATA_ROOT_USER, STRATA_ROOT_PASSWORD   the server's root credentials
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY used when the STRATA_ ones are not set
`

func adminCmd() *cobra.Command {
	var endpoint string
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer a running Strata server",
		Long: `Administer a running Strata server through its admin API (see docs/admin.md).
Requests are signed with the server's root credentials, as S3 requests are.

` + adminEnvHelp,
	}
	cmd.PersistentFlags().StringVar(&endpoint, "endpoint", "", "URL of the server (env STRATA_ENDPOINT, default "+defaultEndpoint+")")
	client := func() (*adminClient, error) { return newAdminClient(endpoint) }
	cmd.AddCommand(adminInfoCmd(client), adminHealCmd(client), adminScanCmd(client), adminBucketCmd(client), adminKMSCmd(client))
	return cmd
}

// adminClient calls the admin API of one server.
type adminClient struct {
	base   *url.URL
	creds  aws.Credentials
	hc     *http.Client
	signer *v4.Signer
}

func newAdminClient(endpoint string) (*adminClient, error) {
	if endpoint == "" {
		endpoint = os.Getenv("STRATA_ENDPOINT")
	}
	if endpoint == "" {
		endpoint = defaultEndpoint
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--endpoint %q is not an http:// or https:// URL", endpoint)
	}
	ak, sk := os.Getenv("STRATA_ROOT_USER"), os.Getenv("STRATA_ROOT_PASSWORD")
	if ak == "" && sk == "" {
		ak, sk = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if ak == "" && sk == "" {
		ak, sk = defaultUser, defaultPassword // what a server started without them uses
	}
	if ak == "" || sk == "" {
		return nil, errors.New("set both STRATA_ROOT_USER and STRATA_ROOT_PASSWORD (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	return &adminClient{
		base:   u,
		creds:  aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
		hc:     &http.Client{Transport: http.DefaultTransport},
		signer: v4.NewSigner(),
	}, nil
}

// emptySHA256 is the payload hash of a request without a body.
var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// call sends a signed request to route and returns the response when it
// succeeded; an error answer becomes an error that says what to do.
func (c *adminClient) call(ctx context.Context, method, route string, q url.Values) (*http.Response, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + admin.Prefix + route
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if err := c.signer.SignHTTP(ctx, c.creds, req, emptySHA256, "s3", "us-east-1", time.Now()); err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("cannot reach the Strata server at %s: %v\n(is it running? give its address with --endpoint or STRATA_ENDPOINT)", c.base, unwrapURLError(err))
		}
		return nil, fmt.Errorf("%s: %w", c.base, unwrapURLError(err))
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ae admin.Error
	if json.Unmarshal(body, &ae) != nil || ae.Code == "" {
		return nil, fmt.Errorf("%s answered %s, not as the Strata admin API does: is it a Strata server?", c.base, resp.Status)
	}
	switch {
	case resp.StatusCode == http.StatusForbidden && ae.Code != "AccessDenied" || ae.Code == "InvalidAccessKeyId":
		return nil, fmt.Errorf("the server refused the credentials of %s (%s: %s)\nset STRATA_ROOT_USER and STRATA_ROOT_PASSWORD to the server's root credentials",
			c.creds.AccessKeyID, ae.Code, ae.Message)
	case resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%s may not administer the server (%s)\nuse the server's root credentials (STRATA_ROOT_USER, STRATA_ROOT_PASSWORD)", c.creds.AccessKeyID, ae.Message)
	case ae.Code == "NoSuchBucket":
		return nil, fmt.Errorf("no bucket named %q on %s", q.Get("bucket"), c.base)
	case resp.StatusCode == http.StatusNotFound && ae.Code == "NotFound":
		return nil, fmt.Errorf("the server at %s does not know %q (is it an older Strata?)", c.base, route)
	}
	return nil, fmt.Errorf("%s: %s", ae.Code, ae.Message)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func adminInfoCmd(client func() (*adminClient, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the server's version, what it serves and its integrity counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			resp, err := c.call(cmd.Context(), http.MethodGet, "info", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				_, err := out.Write(body)
				return err
			}
			var in struct {
				Version string
				Backend json.RawMessage
				Bitrot  *struct {
					BlockSize int          `json:"block_size"`
					Counters  bitrot.Stats `json:"counters"`
				}
				Erasure *erasure.Status
			}
			if err := json.Unmarshal(body, &in); err != nil {
				return fmt.Errorf("cannot read the answer: %v", err)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "Server\t%s\n", c.base)
			fmt.Fprintf(tw, "Version\t%s\n", in.Version)
			if len(in.Backend) > 0 {
				var b map[string]any
				if json.Unmarshal(in.Backend, &b) == nil {
					for _, k := range slices.Sorted(maps.Keys(b)) {
						fmt.Fprintf(tw, "%s\t%v\n", k, b[k])
					}
				}
			}
			if r := in.Bitrot; r != nil {
				fmt.Fprintf(tw, "Bitrot block size\t%s\n", humanize.IBytes(uint64(r.BlockSize)))
				fmt.Fprintf(tw, "Blocks verified\t%d\n", r.Counters.VerifiedBlocks)
				fmt.Fprintf(tw, "Corrupt blocks found\t%d\n", r.Counters.CorruptBlocks)
				fmt.Fprintf(tw, "Unverified reads\t%d\n", r.Counters.UnverifiedReads)
				fmt.Fprintf(tw, "Objects hashed later\t%d\n", r.Counters.HashedObjects)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if in.Erasure != nil {
				printErasure(out, in.Erasure)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func adminScanCmd(client func() (*adminClient, error)) *cobra.Command {
	var hashMissing, removeOrphans, asJSON bool
	cmd := &cobra.Command{
		Use:   "scan BUCKET[/PREFIX]",
		Short: "Verify every object of a bucket against its bitrot hashes",
		Long: `Read every object of BUCKET (older versions included) on the server and check
its data against the HighwayHash of each block written with it. Reports the
objects whose data no longer matches (corrupt), files without hashes (put on
the share directly, or before Strata hashed), and hash objects that belong to
nothing (orphans). Exits with status 1 when corrupt objects were found.

Buckets on a backend that checks its own data (the erasure-coded store,
clouds) have nothing to scan.`,
		Example: `  strata admin scan photos
  strata admin scan photos --hash-missing
  STRATA_ENDPOINT=https://nas:9000 strata admin scan backups --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			bucket, prefix, _ := strings.Cut(args[0], "/")
			q := url.Values{"bucket": {bucket}}
			if prefix != "" {
				q.Set("prefix", prefix)
			}
			if hashMissing {
				q.Set("hash-missing", "true")
			}
			if removeOrphans {
				q.Set("remove-orphans", "true")
			}
			resp, err := c.call(cmd.Context(), http.MethodPost, "scan", q)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			return printScan(resp.Body, cmd.OutOrStdout(), cmd.ErrOrStderr(), bucket, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&hashMissing, "hash-missing", false, "hash the objects that have no hashes (their data is taken as good)")
	fl.BoolVar(&removeOrphans, "remove-orphans", false, "remove hash objects that no object refers to")
	fl.BoolVar(&asJSON, "json", false, "print the server's JSON lines instead of a table")
	return cmd
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// errCorruptFound makes the command exit with status 1.
type errCorruptFound struct{ corrupt, errors int64 }

func (e errCorruptFound) Error() string {
	switch {
	case e.corrupt > 0 && e.errors > 0:
		return fmt.Sprintf("%d corrupt objects found, and %d that could not be read", e.corrupt, e.errors)
	case e.corrupt > 0:
		return fmt.Sprintf("%d corrupt objects found", e.corrupt)
	}
	return fmt.Sprintf("%d objects could not be read", e.errors)
}

// printScan shows the JSON lines of a scan as they come: the problems on
// out, a progress bar on errOut when it is a terminal, and a summary.
func printScan(body io.Reader, out, errOut io.Writer, bucket string, asJSON bool) error {
	var bar *progressbar.ProgressBar
	f, isFile := errOut.(*os.File)
	if !asJSON && isFile && isTerminal(f) {
		bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(errOut),
			progressbar.OptionSetDescription("scanning "+bucket),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum *bitrot.ScanSummary
	shown := 0
	for sc.Scan() {
		line := sc.Bytes()
		if asJSON {
			out.Write(append(bytes.Clone(line), '\n'))
		}
		var l admin.ScanLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("cannot read the server's answer: %v", err)
		}
		switch l.Type {
		case admin.LineProgress:
			if bar != nil && l.ScanSummary != nil {
				bar.Describe(fmt.Sprintf("scanning %s: %d objects, %s, %d corrupt", bucket, l.Objects, humanize.IBytes(uint64(l.Bytes)), l.Corrupt))
				bar.Set64(l.Bytes)
			}
		case admin.LineObject:
			if asJSON || l.ScanEntry == nil {
				continue
			}
			if bar != nil {
				bar.Clear()
			}
			fmt.Fprintf(out, "%-14s %s", strings.ToUpper(string(l.Status)), l.Key)
			if l.Detail != "" && l.Detail != "no hashes" {
				fmt.Fprintf(out, ": %s", l.Detail)
			}
			fmt.Fprintln(out)
			shown++
		case admin.LineSummary:
			sum = l.ScanSummary
		case admin.LineError:
			if bar != nil {
				bar.Clear()
			}
			return fmt.Errorf("the scan stopped: %s: %s", l.Code, l.Message)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the connection to the server broke during the scan: %v", err)
	}
	if sum == nil {
		return errors.New("the scan ended without a summary: the server stopped it")
	}
	if !asJSON {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		if shown > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "Bucket\t%s\n", sum.Bucket)
		fmt.Fprintf(tw, "Objects\t%d\n", sum.Objects)
		fmt.Fprintf(tw, "Data verified\t%s\n", humanize.IBytes(uint64(sum.Bytes)))
		fmt.Fprintf(tw, "OK\t%d\n", sum.OK)
		fmt.Fprintf(tw, "Corrupt\t%d\n", sum.Corrupt)
		fmt.Fprintf(tw, "Without hashes\t%d\n", sum.Unhashed)
		fmt.Fprintf(tw, "Hashed now\t%d\n", sum.Hashed)
		if sum.Newer > 0 {
			fmt.Fprintf(tw, "Newer format (not checked)\t%d\n", sum.Newer)
		}
		fmt.Fprintf(tw, "Unreadable\t%d\n", sum.Errors)
		if sum.OrphansSkipped != "" {
			fmt.Fprintf(tw, "Orphan hash objects\tnot looked for: %s\n", sum.OrphansSkipped)
		} else {
			fmt.Fprintf(tw, "Orphan hash objects\t%d (removed %d)\n", sum.Orphans, sum.Removed)
		}
		tw.Flush()
		if sum.Unhashed > 0 {
			fmt.Fprintln(out, "\nObjects without hashes are served unverified; --hash-missing hashes them.")
		}
		if sum.Orphans > sum.Removed {
			fmt.Fprintln(out, "Orphan hash objects take space only; --remove-orphans removes them.")
		}
	}
	if sum.Corrupt > 0 || sum.Errors > 0 {
		return errCorruptFound{sum.Corrupt, sum.Errors}
	}
	return nil
}

func adminBucketCmd(client func() (*adminClient, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bucket",
		Short: "Bucket settings that only an administrator changes",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "worm BUCKET",
		Short: "Make a bucket write-once: existing objects can no longer be changed or deleted",
		Long: `Make BUCKET write-once (WORM): from now on every request that would change or
delete an existing object is refused; new keys can still be written. This
cannot be undone through the API.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			resp, err := c.call(cmd.Context(), http.MethodPost, "bucket/worm", url.Values{"bucket": {args[0]}})
			if err != nil {
				return err
			}
			resp.Body.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "Bucket %s is now write-once.\n", args[0])
			return nil
		},
	})
	return cmd
}

func adminKMSCmd(client func() (*adminClient, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kms",
		Short: "The server's KMS: its keys and whether it works",
	}
	// get calls route and decodes its JSON answer into v.
	get := func(cmd *cobra.Command, method, route string, q url.Values, v any) error {
		c, err := client()
		if err != nil {
			return err
		}
		resp, err := c.call(cmd.Context(), method, route, q)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(v)
	}
	key := &cobra.Command{Use: "key", Short: "Create and list KMS master keys"}
	key.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create a master key (Vault; the built-in KMS takes its keys from STRATA_KMS_SECRET_KEY)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out map[string]string
			if err := get(cmd, http.MethodPost, "kms/key/create", url.Values{"key": {args[0]}}, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created KMS key %s.\n", out["key"])
			return nil
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List the master keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Keys    []string `json:"keys"`
				Default string   `json:"default"`
			}
			if err := get(cmd, http.MethodGet, "kms/key/list", nil, &out); err != nil {
				return err
			}
			for _, k := range out.Keys {
				mark := ""
				if k == out.Default {
					mark = " (default)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s%s\n", k, mark)
			}
			return nil
		},
	})
	cmd.AddCommand(key, &cobra.Command{
		Use:   "status",
		Short: "Show the KMS and whether its default key works",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var st kms.Status
			if err := get(cmd, http.MethodGet, "kms/status", nil, &st); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "KMS\t%s\n", st.Name)
			if st.Endpoint != "" {
				fmt.Fprintf(tw, "Endpoint\t%s\n", st.Endpoint)
			}
			fmt.Fprintf(tw, "Default key\t%s\n", st.DefaultKey)
			fmt.Fprintf(tw, "Online\t%v\n", st.Online)
			if st.Detail != "" {
				fmt.Fprintf(tw, "Detail\t%s\n", st.Detail)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if !st.Online {
				return errors.New("the KMS does not work")
			}
			return nil
		},
	})
	return cmd
}
