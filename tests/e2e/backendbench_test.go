package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// TestBenchBackends measures `strata bench` through a strata server over
// each backend beside the same load sent to that backend's storage
// directly (strata bench --direct): Strata's added latency per request
// and its throughput ratio. It runs only with STRATA_BACKEND_BENCH=1
// (make bench-backends); STRATA_BACKEND_BENCH_ONLY=azure,gcs,... picks
// some, STRATA_BACKEND_BENCH_DURATION sets each run's length (default 3s).
func TestBenchBackends(t *testing.T) {
	if benchSetting("STRATA_BACKEND_BENCH") == "" {
		t.Skip("a measurement, not a test: set STRATA_BACKEND_BENCH=1 (make bench-backends)")
	}
	want := func(name string) bool {
		only := benchSetting("STRATA_BACKEND_BENCH_ONLY")
		return only == "" || strings.Contains(","+only+",", ","+name+",")
	}
	if ganeshaDir != "" { // inside ganesha.sh run: NFS only
		benchBackend(t, "nfs", fmt.Sprintf("{type: nfs, host: 127.0.0.1, export: %s}", filepath.Join(ganeshaDir, "export")))
		return
	}
	if want("dir") {
		t.Run("dir", func(t *testing.T) {
			benchBackend(t, "dir", fmt.Sprintf("{type: dir, path: %s}", t.TempDir()))
		})
	}
	if want("s3") {
		t.Run("s3", func(t *testing.T) {
			moto, err := exec.LookPath("moto_server")
			if err != nil {
				t.Skip("moto_server is not installed")
			}
			addr := freeAddr(t)
			host, port, _ := net.SplitHostPort(addr)
			cmd := exec.Command(moto, "-H", host, "-p", port)
			must(t, cmd.Start(), "moto_server")
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			waitListen(t, addr)
			benchBackend(t, "s3", fmt.Sprintf("{type: s3, endpoint: http://%s, region: us-east-1, access_key: testing, secret_key: testing, path_style: true}", addr))
		})
	}
	if want("azure") {
		t.Run("azure", func(t *testing.T) {
			ep := startAzurite(t)
			benchBackend(t, "azure", fmt.Sprintf("{type: azure, account: %s, key: %q, endpoint: %q}", azAccount, azKey, ep))
		})
	}
	if want("gcs") {
		t.Run("gcs", func(t *testing.T) {
			addr := freeAddr(t)
			_, p, _ := net.SplitHostPort(addr)
			port, _ := strconv.Atoi(p)
			srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
				Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: addr, NoListener: false,
			})
			must(t, err, "fake-gcs-server")
			t.Cleanup(srv.Stop)
			benchBackend(t, "gcs", fmt.Sprintf("{type: gcs, project: bench, endpoint: %q}", srv.URL()+"/storage/v1/"))
		})
	}
	if want("smb") {
		t.Run("smb", func(t *testing.T) {
			addr, _ := startSmbd(t)
			host, port, _ := net.SplitHostPort(addr)
			benchBackend(t, "smb", fmt.Sprintf("{type: smb, host: %s, port: %s, share: data, user: strata, password: %q}", host, port, smbPassword))
		})
	}
	if want("nfs") {
		t.Run("nfs", func(t *testing.T) { runInGanesha(t, "^TestBenchBackends$") })
	}
}

func waitListen(t *testing.T, addr string) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 30s", addr)
		}
	}
}

// benchRow is one line of strata bench's table.
type benchRow struct {
	mibs float64
	p50  float64 // milliseconds
}

// benchBackend serves the backend described by spec (a YAML flow map)
// with a strata server and compares bench through it against --direct.
func benchBackend(t *testing.T, name, spec string) {
	conf := filepath.Join(t.TempDir(), "strata.yaml")
	must(t, os.WriteFile(conf, []byte("backends:\n  "+name+": "+spec+"\ndefault: "+name+"\n"), 0o644), "write config")
	s := startServer(t, withConfig(conf))
	dur := benchSetting("STRATA_BACKEND_BENCH_DURATION")
	if dur == "" {
		dur = "3s"
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%s: through Strata vs direct (%s each, 4 in flight)\n", name, dur)
	fmt.Fprintf(&report, "%-6s %-4s %12s %12s %7s %10s %10s %9s\n", "size", "op", "Strata MiB/s", "direct MiB/s", "ratio", "Strata p50", "direct p50", "added")
	for _, size := range []struct {
		size    string
		objects string
	}{{"4KiB", "16"}, {"1MiB", "16"}, {"64MiB", "4"}} {
		bucket := "bench-" + strings.ToLower(strings.TrimSuffix(size.size, "iB"))
		args := []string{"bench", "--bucket", bucket, "--size", size.size, "--objects", size.objects,
			"--concurrency", "4", "--duration", dur, "--ops", "put,get"}
		through := runBenchCmd(t, s, append(args, "--endpoint", s.URL))
		direct := runBenchCmd(t, s, append(args, "--config", conf, "--direct", name))
		for _, op := range []string{"put", "get"} {
			a, b := through[op], direct[op]
			fmt.Fprintf(&report, "%-6s %-4s %12.1f %12.1f %6.0f%% %8.2fms %8.2fms %7.2fms\n", size.size, op,
				a.mibs, b.mibs, 100*a.mibs/b.mibs, a.p50, b.p50, a.p50-b.p50)
		}
	}
	fmt.Fprint(os.Stderr, report.String())
}

func runBenchCmd(t *testing.T, s *server, args []string) map[string]benchRow {
	cmd := exec.Command(strataBin, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("strata %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	rows := map[string]benchRow{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// op, size (number and unit), ops, errors, ops/s, MiB/s, p50...
		if len(f) < 8 || (f[0] != "put" && f[0] != "get") {
			continue
		}
		if f[4] != "0" {
			t.Errorf("strata %s: %s errors:\n%s", strings.Join(args, " "), f[4], out)
		}
		mibs, _ := strconv.ParseFloat(f[6], 64)
		p50, _ := strconv.ParseFloat(strings.TrimSuffix(f[7], "ms"), 64)
		rows[f[0]] = benchRow{mibs: mibs, p50: p50}
	}
	if len(rows) != 2 {
		t.Fatalf("strata %s: no put and get rows:\n%s", strings.Join(args, " "), out)
	}
	return rows
}
