// Command testsvc is the service the QEMU tests configure in an image.
//
//	testsvc serve   runs until SIGTERM; leaves one orphan for init to reap
//	testsvc crash   prints a line and exits 1 after a moment
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testsvc serve|crash")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve()
	case "crash":
		fmt.Printf("crasher run pid %d\n", os.Getpid())
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintln(os.Stderr, "crasher failing on purpose")
		os.Exit(1)
	case "spawn-orphan":
		// The grandchild outlives this process, so the kernel hands it
		// to PID 1, which must reap it.
		cmd := exec.Command(os.Args[0], "linger")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("orphan pid %d\n", cmd.Process.Pid)
	case "linger":
		time.Sleep(500 * time.Millisecond)
	}
}

func serve() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("steady up")
	out, err := exec.Command(os.Args[0], "spawn-orphan").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "spawn-orphan:", err)
	}
	fmt.Print(string(out))
	<-term
	fmt.Println("steady stopping")
}
