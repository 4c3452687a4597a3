package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/strata-storage/strata/erasure"
	"github.com/strata-storage/strata/s3api/admin"
)

func adminHealCmd(client func() (*adminClient, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "heal [BUCKET[/PREFIX]]",
		Short: "Repair the erasure-coded store: rebuild missing and damaged shards",
		Long: `Check every object of the server's erasure-coded store (or of BUCKET, or of
the keys of BUCKET under PREFIX) on every drive of its set, verifying every
shard block against its hash, and rebuild from the intact shards what is
missing or damaged: after a drive was replaced or wiped, or bits rotted.

An empty folder in the place of a drive is formatted as that drive first,
then refilled. Objects held by fewer drives than a read needs (left by a
write that failed) are removed. A progress bar runs on the terminal, then a
summary. Exits with status 1 when objects could not be healed.`,
		Example: `  strata admin heal
  strata admin heal photos
  strata admin heal photos/2024/ --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			q := url.Values{}
			what := "every bucket"
			if len(args) == 1 && args[0] != "" {
				bucket, prefix, _ := strings.Cut(args[0], "/")
				q.Set("bucket", bucket)
				what = bucket
				if prefix != "" {
					q.Set("prefix", prefix)
					what = bucket + "/" + prefix
				}
			}
			resp, err := c.call(cmd.Context(), http.MethodPost, "heal", q)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			return printHeal(resp.Body, cmd.OutOrStdout(), cmd.ErrOrStderr(), what, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON lines instead of a table")
	return cmd
}

// errHealIncomplete makes the command exit with status 1.
type errHealIncomplete struct{ failed, unrecoverable int }

func (e errHealIncomplete) Error() string {
	switch {
	case e.failed > 0 && e.unrecoverable > 0:
		return fmt.Sprintf("%d objects could not be healed now (try again when every drive is online) and %d cannot be rebuilt", e.failed, e.unrecoverable)
	case e.unrecoverable > 0:
		return fmt.Sprintf("%d objects cannot be rebuilt: too few intact shards", e.unrecoverable)
	}
	return fmt.Sprintf("%d objects could not be healed now (try again when every drive is online)", e.failed)
}

// printHeal shows the JSON lines of a heal as they come: objects that could
// not be healed on out, a progress bar on errOut when it is a terminal, and
// a summary.
func printHeal(body io.Reader, out, errOut io.Writer, what string, asJSON bool) error {
	var bar *progressbar.ProgressBar
	if f, ok := errOut.(*os.File); ok && !asJSON && isTerminal(f) {
		bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(errOut),
			progressbar.OptionSetDescription("healing "+what),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("objects"),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum *erasure.HealSummary
	shown := 0
	for sc.Scan() {
		line := sc.Bytes()
		if asJSON {
			out.Write(append(bytes.Clone(line), '\n'))
		}
		var l admin.HealLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("cannot read the server's answer: %v", err)
		}
		switch l.Type {
		case admin.LineProgress:
			if bar != nil && l.HealSummary != nil {
				if l.Total > 0 && bar.GetMax64() != int64(l.Total) {
					bar.ChangeMax64(int64(l.Total))
				}
				bar.Describe(fmt.Sprintf("healing %s: %d healed, %d failed", what, l.Healed, l.Failed+l.Unrecoverable))
				bar.Set64(int64(l.Objects))
			}
		case admin.LineObject:
			if asJSON {
				continue
			}
			if bar != nil {
				bar.Clear()
			}
			fmt.Fprintf(out, "%-14s %s/%s: %s\n", strings.ToUpper(l.Status), l.Bucket, l.Key, l.Detail)
			shown++
		case admin.LineSummary:
			sum = l.HealSummary
		case admin.LineError:
			if bar != nil {
				bar.Clear()
			}
			return fmt.Errorf("the heal stopped: %s: %s", l.Code, l.Message)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the connection to the server broke during the heal: %v", err)
	}
	if sum == nil {
		return errors.New("the heal ended without a summary: the server stopped it")
	}
	if !asJSON {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		if shown > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "Healed\t%s\n", what)
		fmt.Fprintf(tw, "Buckets\t%d\n", sum.Buckets)
		fmt.Fprintf(tw, "Objects checked\t%d\n", sum.Objects)
		fmt.Fprintf(tw, "Objects healed\t%d\n", sum.Healed)
		fmt.Fprintf(tw, "Shards rewritten\t%d\n", sum.Shards)
		fmt.Fprintf(tw, "Dangling removed\t%d\n", sum.Removed)
		fmt.Fprintf(tw, "Failed\t%d\n", sum.Failed)
		fmt.Fprintf(tw, "Unrecoverable\t%d\n", sum.Unrecoverable)
		tw.Flush()
	}
	if sum.Failed > 0 || sum.Unrecoverable > 0 {
		return errHealIncomplete{sum.Failed, sum.Unrecoverable}
	}
	return nil
}

// printErasure shows the erasure store's part of admin info: its sets and
// a table of drives.
func printErasure(out io.Writer, st *erasure.Status) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Deployment\t%s\n", st.Deployment)
	fmt.Fprintf(tw, "Parity\tSTANDARD %d, REDUCED_REDUNDANCY %d\n", st.Parity, st.RRSParity)
	fmt.Fprintf(tw, "Erasure block\t%s\n", humanize.IBytes(uint64(st.BlockSize)))
	fmt.Fprintf(tw, "Heal queue\t%d objects\n", st.HealQueue)
	sc := st.Scanner
	switch {
	case !sc.Enabled:
		fmt.Fprintf(tw, "Heal scanner\toff\n")
	default:
		fmt.Fprintf(tw, "Heal scanner\tevery %v\n", sc.Interval)
		if sc.Running {
			fmt.Fprintf(tw, "  running\t%d objects checked so far, %d healed\n", sc.Current.Objects, sc.Current.Healed)
		}
		if !sc.LastEnd.IsZero() {
			fmt.Fprintf(tw, "  last cycle\t%s, took %v: %d objects checked, %d healed, %d failed, %d unrecoverable\n",
				sc.LastEnd.Local().Format(time.DateTime), roundDuration(sc.LastEnd.Sub(sc.LastStart)),
				sc.Last.Objects, sc.Last.Healed, sc.Last.Failed, sc.Last.Unrecoverable)
		}
		if !sc.Running && !sc.NextStart.IsZero() {
			fmt.Fprintf(tw, "  next cycle\t%s\n", sc.NextStart.Local().Format(time.DateTime))
		}
		fmt.Fprintf(tw, "  queue healed\t%d objects since start\n", sc.QueueHealed)
	}
	for _, s := range st.Sets {
		state := "ok"
		switch {
		case s.Online < s.ReadQuorum:
			state = "DOWN: below read quorum"
		case s.Online < s.WriteQuorum:
			state = "READ-ONLY: below write quorum"
		case s.Online < s.Drives:
			state = "degraded"
		}
		fmt.Fprintf(tw, "Set %d\t%d of %d drives online (%s)\n", s.Index, s.Online, s.Drives, state)
	}
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DRIVE\tSET\tSTATE\tUSED\tFREE\tDETAIL")
	for _, d := range st.Drives {
		used, free := "-", "-"
		if d.Total > 0 {
			used, free = humanize.IBytes(d.Used), humanize.IBytes(d.Free)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", d.Path, d.Set, d.State, used, free, d.Detail)
	}
	tw.Flush()
}

// roundDuration rounds d for people: milliseconds below a second, seconds
// above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
