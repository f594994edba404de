// Command benchreport turns `go test -bench` output into BENCHMARKS.md:
// one table per package, every metric the benchmarks report, the machine
// the figures came from, and the reference each figure is judged against.
//
//	benchreport -o BENCHMARKS.md out/bench/*.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// result is one benchmark line.
type result struct {
	name    string
	iters   string
	metrics []metric
}

type metric struct{ value, unit string }

// pkgResults holds a package's benchmarks in the order they ran, and the
// boot timelines they logged.
type pkgResults struct {
	pkg       string
	results   []result
	timelines []boardTimeline
}

func main() {
	out := pflag.StringP("output", "o", "BENCHMARKS.md", "file to write")
	pflag.Parse()
	var pkgs []*pkgResults
	cpu := ""
	for _, f := range pflag.Args() {
		ps, c, err := parseFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		pkgs = append(pkgs, ps...)
		if c != "" {
			cpu = c
		}
	}
	if len(pkgs) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark results in the input")
		os.Exit(1)
	}
	var b strings.Builder
	writeReport(&b, pkgs, cpu)
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func parseFile(path string) ([]*pkgResults, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	return parse(f)
}

// parse reads go test -bench output.
func parse(r io.Reader) ([]*pkgResults, string, error) {
	var (
		pkgs  []*pkgResults
		cur   *pkgResults
		cpu   string
		bench string // the benchmark whose log lines follow
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			cur = &pkgResults{pkg: strings.TrimPrefix(line, "pkg: ")}
			pkgs = append(pkgs, cur)
		case strings.HasPrefix(line, "cpu: "):
			cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "Benchmark") && cur != nil:
			if res, ok := parseLine(line); ok {
				cur.results = append(cur.results, res)
			}
		case benchHeader.MatchString(line):
			bench = benchHeader.FindStringSubmatch(line)[1]
		case cur != nil:
			if t, ok := parseTimeline(bench, line); ok {
				cur.timelines = addTimeline(cur.timelines, t)
			}
		}
	}
	return pkgs, cpu, sc.Err()
}

func parseLine(line string) (result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return result{}, false
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndex(name, "-"); i > 0 {
		name = name[:i] // drop the GOMAXPROCS suffix
	}
	res := result{name: name, iters: f[1]}
	for i := 2; i+1 < len(f); i += 2 {
		if f[i+1] == "ns/op" && f[i] == "0" {
			continue // benchmarks that report their own time zero this out
		}
		res.metrics = append(res.metrics, metric{f[i], f[i+1]})
	}
	return res, true
}

func writeReport(w io.Writer, pkgs []*pkgResults, cpu string) {
	fmt.Fprintf(w, "# edgegate benchmarks\n\n")
	fmt.Fprintf(w, "Written by `make bench` on %s. Every figure in the tables below comes from that one run on this machine (reference figures quoted under a heading are not, and say where they come from):\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	for _, l := range machine(cpu) {
		fmt.Fprintf(w, "- %s\n", l)
	}
	fmt.Fprintf(w, "\nQEMU runs under TCG (no KVM). Boot figures are medians of several boots and sit next to a floor measured in the same run, because single boots on a shared 2-core host vary by seconds.\n")
	for _, p := range mergePackages(pkgs) {
		if len(p.results) == 0 {
			continue
		}
		short := strings.TrimPrefix(p.pkg, "github.com/edgegate/edgegate/")
		fmt.Fprintf(w, "\n## %s\n\n", short)
		if n, ok := notes[short]; ok {
			fmt.Fprintf(w, "%s\n\n", n)
		}
		writeReferences(w, references[short])
		for _, g := range groups(p.results) {
			writeTable(w, g)
			fmt.Fprintln(w)
		}
		writeTimelines(w, p.timelines)
	}
}

// mergePackages joins the results of one package run in several
// invocations (benchmarks that need different -benchtime), in order.
func mergePackages(pkgs []*pkgResults) []*pkgResults {
	var out []*pkgResults
	byName := map[string]*pkgResults{}
	for _, p := range pkgs {
		if m, ok := byName[p.pkg]; ok {
			m.results = append(m.results, p.results...)
			m.timelines = append(m.timelines, p.timelines...)
			continue
		}
		c := &pkgResults{pkg: p.pkg, results: append([]result(nil), p.results...), timelines: append([]boardTimeline(nil), p.timelines...)}
		byName[p.pkg] = c
		out = append(out, c)
	}
	return out
}

// groups splits results by top-level benchmark (the name before the first
// slash), so each table has the columns its benchmarks report.
func groups(rs []result) [][]result {
	var out [][]result
	index := map[string]int{}
	for _, r := range rs {
		top, _, _ := strings.Cut(r.name, "/")
		i, ok := index[top]
		if !ok {
			i = len(out)
			index[top] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

func writeTable(w io.Writer, rs []result) {
	units := map[string]bool{}
	var order []string
	for _, r := range rs {
		for _, m := range r.metrics {
			if !units[m.unit] {
				units[m.unit] = true
				order = append(order, m.unit)
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return unitRank(order[i]) < unitRank(order[j]) })
	fmt.Fprintf(w, "| benchmark | runs | %s |\n|---|---|%s\n", strings.Join(order, " | "), strings.Repeat("---|", len(order)))
	for _, r := range rs {
		cells := make([]string, len(order))
		for i, u := range order {
			for _, m := range r.metrics {
				if m.unit == u {
					cells[i] = m.value
				}
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.name, r.iters, strings.Join(cells, " | "))
	}
}

// unitRank puts Go's standard columns first.
func unitRank(u string) int {
	switch u {
	case "ns/op":
		return 0
	case "B/op":
		return 1
	case "allocs/op":
		return 2
	}
	return 3
}

func machine(cpu string) []string {
	var ls []string
	if cpu != "" {
		ls = append(ls, "CPU: "+cpu)
	}
	ls = append(ls, fmt.Sprintf("cores: %d", runtime.NumCPU()))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			ls = append(ls, "memory: "+f[1]+" kB")
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		ls = append(ls, "kernel: Linux "+strings.TrimSpace(string(b)))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		ls = append(ls, "load average when the report was written: "+strings.Join(strings.Fields(string(b))[:3], " "))
	}
	ls = append(ls, "Go: "+runtime.Version())
	if out, err := exec.Command("qemu-system-aarch64", "--version").Output(); err == nil {
		ls = append(ls, "QEMU: "+strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]))
	}
	return ls
}

// writeReferences lists the upstream figures a package is judged against,
// each with its source, apart from the figures of this run.
func writeReferences(w io.Writer, refs []reference) {
	if len(refs) == 0 {
		return
	}
	fmt.Fprintf(w, "Reference figures, not measured in this run:\n\n")
	for _, r := range refs {
		fmt.Fprintf(w, "- %s (source: %s)\n", r.text, r.source)
	}
	fmt.Fprintln(w)
}
