package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// The boot benchmarks log the timeline of their median boot as
// "median-boot-timeline <board> timeline <step>=<start>+<ms> ..." (see
// qemu's logMedianTimeline), under the benchmark's "--- BENCH:" header.
var (
	benchHeader = regexp.MustCompile(`^\s*--- BENCH: Benchmark([A-Za-z0-9_]+)`)
	timelineLog = regexp.MustCompile(`^\s+\S+:\d+: median-boot-timeline (\S+) timeline((?: \S+)*)\s*$`)
	stepField   = regexp.MustCompile(`^([^=]+)=(\d+)\+(\d+|\?)$`)
)

// boardTimeline is one board's median boot timeline of one benchmark.
type boardTimeline struct {
	bench, board string
	steps        []timelineStep
}

// timelineStep is a step's start (ms since the kernel started) and
// duration in ms ("?": it had not ended).
type timelineStep struct{ name, start, ms string }

// parseTimeline reads a median-boot-timeline log line of bench.
func parseTimeline(bench, line string) (boardTimeline, bool) {
	m := timelineLog.FindStringSubmatch(line)
	if m == nil || bench == "" {
		return boardTimeline{}, false
	}
	t := boardTimeline{bench: bench, board: m[1]}
	for _, f := range strings.Fields(m[2]) {
		s := stepField.FindStringSubmatch(f)
		if s == nil {
			return boardTimeline{}, false
		}
		t.steps = append(t.steps, timelineStep{s[1], s[2], s[3]})
	}
	return t, len(t.steps) > 0
}

// addTimeline adds t, replacing an earlier timeline of the same benchmark
// and board: go test runs a benchmark once with b.N = 1 before the run
// whose results it prints, and both log.
func addTimeline(ts []boardTimeline, t boardTimeline) []boardTimeline {
	for i, old := range ts {
		if old.bench == t.bench && old.board == t.board {
			ts[i] = t
			return ts
		}
	}
	return append(ts, t)
}

// writeTimelines writes one table per benchmark that logged timelines: a
// row per step, a start and a duration column per board.
func writeTimelines(w io.Writer, ts []boardTimeline) {
	var benches []string
	byBench := map[string][]boardTimeline{}
	for _, t := range ts {
		if _, ok := byBench[t.bench]; !ok {
			benches = append(benches, t.bench)
		}
		byBench[t.bench] = append(byBench[t.bench], t)
	}
	for _, bench := range benches {
		boards := byBench[bench]
		fmt.Fprintf(w, "Boot timeline of the median `%s` boot: when each step began, in ms since the kernel started, and how long it took (steps that overlap ran in parallel; `?`: not ended).\n\n", bench)
		var names []string
		cells := map[string]map[string]timelineStep{}
		for _, b := range boards {
			for _, s := range b.steps {
				if cells[s.name] == nil {
					cells[s.name] = map[string]timelineStep{}
					names = append(names, s.name)
				}
				cells[s.name][b.board] = s
			}
		}
		fmt.Fprintf(w, "| step |")
		for _, b := range boards {
			fmt.Fprintf(w, " %s start-ms | %s ms |", b.board, b.board)
		}
		fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|---|", len(boards)))
		for _, n := range names {
			fmt.Fprintf(w, "| %s |", n)
			for _, b := range boards {
				s := cells[n][b.board]
				fmt.Fprintf(w, " %s | %s |", s.start, s.ms)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
}
