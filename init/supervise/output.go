package supervise

import (
	"errors"
	"io"
	"os"
	"sync"

	"k8s.io/klog/v2"
)

// output is where one service's stdout and stderr go: the ring, the
// rotated file on /var/log and the console. It outlives single runs so the
// ring and the file keep the history across restarts.
type output struct {
	name    string
	ring    *Ring
	file    *RotatingFile // nil when there is no log dir or it failed
	console *linePrefixer // nil without a console

	mu          sync.Mutex
	fileFailing bool
}

// Write is never slowed down by a full or broken disk: file errors are
// reported once (and once when the file works again) and the bytes still
// go to the ring and console.
func (o *output) Write(p []byte) (int, error) {
	o.ring.Write(p)
	if o.file != nil {
		_, err := o.file.Write(p)
		o.noteFileErr(err)
	}
	if o.console != nil {
		o.console.Write(p)
	}
	return len(p), nil
}

func (o *output) noteFileErr(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err != nil && !o.fileFailing:
		o.fileFailing = true
		klog.Errorf("service %s: log file write failing, keeping output in memory only: %v", o.name, err)
	case err == nil && o.fileFailing:
		o.fileFailing = false
		klog.Infof("service %s: log file writable again", o.name)
	}
}

// pump copies one run's pipe into the output until every writer of the
// pipe (the service and any child it left behind) has closed it.
func (o *output) pump(r *os.File) {
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			o.Write(buf[:n])
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				klog.Warningf("service %s: read output: %v", o.name, err)
			}
			break
		}
	}
	if o.console != nil {
		o.console.flush()
	}
}

func (o *output) close() {
	if o.file != nil {
		if err := o.file.Close(); err != nil {
			klog.Warningf("service %s: close log: %v", o.name, err)
		}
	}
}
