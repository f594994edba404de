package ctr

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// killDaemon SIGKILLs the process serving the containerd socket, found by
// the socket's peer credentials: a crash, as the supervisor would see one.
func (t Tool) killDaemon() error {
	conn, err := net.Dial("unix", t.Settings.Socket)
	if err != nil {
		return fmt.Errorf("kill-daemon: %w", err)
	}
	defer conn.Close()
	raw, err := conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		return fmt.Errorf("kill-daemon: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("kill-daemon: %w", err)
	}
	if credErr != nil {
		return fmt.Errorf("kill-daemon: peer of %s: %w", t.Settings.Socket, credErr)
	}
	if err := unix.Kill(int(cred.Pid), unix.SIGKILL); err != nil {
		return fmt.Errorf("kill-daemon: pid %d: %w", cred.Pid, err)
	}
	fmt.Fprintf(t.Out, "killed containerd pid %d\n", cred.Pid)
	return nil
}
