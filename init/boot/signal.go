package boot

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

func notifyChild(c chan<- os.Signal) { signal.Notify(c, unix.SIGCHLD) }
