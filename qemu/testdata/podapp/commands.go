package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

func printEnv([]string) error {
	fmt.Print(sortedEnv())
	return nil
}

func cat(files []string) error {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err // names the file
		}
		os.Stdout.Write(data)
	}
	return nil
}

// write is the init-container job: it leaves TEXT in FILE (creating the
// directories on the way) for the app containers to find.
func write(args []string) error {
	file, text := args[0], args[1]
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Printf("podapp: wrote %d bytes to %s\n", len(text), file)
	return nil
}

func sleep(args []string) error {
	d, err := parseDuration(args[0])
	if err != nil {
		return err
	}
	fmt.Printf("podapp: sleeping %v\n", d)
	time.Sleep(d)
	return nil
}

// setupExit registers exit's --after; the action announces the status on
// stdout (so a test can tell a run from a restart) and returns it.
func setupExit(fs *flag.FlagSet) func([]string) error {
	var after time.Duration
	fs.Var((*duration)(&after), "after", "wait this long before exiting")
	return func(args []string) error {
		code, err := strconv.Atoi(args[0])
		if err != nil || code < 0 || code > 255 {
			return fmt.Errorf("bad exit status %q (want 0-255)", args[0])
		}
		time.Sleep(after)
		fmt.Printf("podapp: exit %d\n", code)
		return exitCode(code)
	}
}

// alloc touches MIB mebibytes one page at a time, reporting each one, and
// then holds them, so a memory limit below MIB gets the container
// OOM-killed at a point the log shows.
func alloc(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("bad size %q (want MiB)", args[0])
	}
	const mib = 1 << 20
	page := os.Getpagesize()
	held := make([][]byte, 0, n)
	for i := 1; i <= n; i++ {
		chunk := make([]byte, mib)
		for off := 0; off < len(chunk); off += page {
			chunk[off] = 1 // fresh pages are only committed when written
		}
		held = append(held, chunk)
		fmt.Printf("podapp: allocated %d MiB\n", i)
	}
	fmt.Printf("podapp: holding %d MiB\n", n)
	for {
		time.Sleep(time.Hour)
		runtime.KeepAlive(held)
	}
}

// logLines writes N numbered lines and then idles, for log tests.
func logLines(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("bad line count %q", args[0])
	}
	for i := 1; i <= n; i++ {
		fmt.Printf("podapp: log line %d of %d\n", i, n)
	}
	forever()
	return nil
}
