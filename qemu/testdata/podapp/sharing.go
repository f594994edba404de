package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// What the tests read to see what a pod's containers share.

// recordedNamespaces are the namespaces record-ns writes down.
var recordedNamespaces = []string{"ipc", "net", "uts", "pid", "mnt"}

// namespaces is one "<name> <link>" line per namespace this process is in,
// e.g. "ipc ipc:[4026532301]".
func namespaces() (string, error) {
	var b strings.Builder
	for _, ns := range recordedNamespaces {
		link, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %s\n", ns, link)
	}
	return b.String(), nil
}

// recordNamespaces writes namespaces() to every FILE, then waits: a
// sidecar that tells, through a volume or /dev/shm it shares, where it
// runs.
func recordNamespaces(files []string) error {
	text, err := namespaces()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("podapp: namespaces written to %s\n", strings.Join(files, ", "))
	forever()
	return nil
}

// serveNamespaces answers GET /ns with namespaces().
func serveNamespaces(w http.ResponseWriter, _ *http.Request) {
	text, err := namespaces()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, text)
}

// fill writes MIB mebibytes of data (not a hole) to FILE, reporting each,
// then waits: a container that outgrows its emptyDir's sizeLimit.
func fill(args []string) error {
	file := args[0]
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		return fmt.Errorf("bad size %q (want MiB)", args[1])
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i) | 1
	}
	for i := 1; i <= n; i++ {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
		fmt.Printf("podapp: wrote %d MiB to %s\n", i, file)
	}
	if err := f.Close(); err != nil {
		return err
	}
	forever()
	return nil
}
