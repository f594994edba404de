// ctrhello is the container payload of the containerd QEMU tests: a static
// binary that says where it runs and, when given an address, reaches a TCP
// server through the container network and prints the server's answer.
//
//	ctrhello                 print one line
//	ctrhello ADDR TOKEN      also send TOKEN to ADDR and print the reply
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

func main() {
	host, _ := os.Hostname()
	fmt.Printf("hello from container: arch=%s pid=%d host=%s\n", runtime.GOARCH, os.Getpid(), host)
	if len(os.Args) < 3 {
		return
	}
	addr, token := os.Args[1], os.Args[2]
	conn, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		fmt.Printf("container cannot reach %s: %v\n", addr, err)
		os.Exit(3)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "%s\n", token)
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Printf("no reply from %s: %v\n", addr, err)
		os.Exit(4)
	}
	fmt.Printf("container got reply: %s", reply)
}
