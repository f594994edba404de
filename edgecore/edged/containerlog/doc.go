// Package containerlog writes container stdout/stderr to the gateway's data
// partition the way a kubelet node with containerd does, so that tooling
// which understands /var/log/pods (kubectl logs semantics, log shippers) works
// unchanged, and so that a chatty container can never fill the disk.
//
// Layout (kubelet's): <root>/<namespace>_<pod>_<uid>/<container>/<restart>.log.
// Each file holds CRI log records, one per line, exactly as containerd's CRI
// logger writes them:
//
//	<RFC3339Nano timestamp> <stdout|stderr> <F|P> <text>\n
//
// F ends a line and P marks a piece of a longer one: a line is cut into
// pieces of MaxLineBytes (containerd's default max_container_log_line_size),
// and output that ends without a newline is written as P. Like containerd,
// the trailing "\r" of a "\r\n" line ending is dropped; any other "\r" is
// kept as text. One difference: the records cut from one read of the stream
// share one timestamp, where containerd reads the clock per record.
//
// Rotation is kubelet's (containerLogMaxSize / containerLogMaxFiles): the live
// file is renamed to <file>.<YYYYMMDD-hhmmss> and the oldest rotated files are
// deleted so that at most MaxFiles files, the live one included, remain.
// Unlike kubelet, which checks sizes every 10 s, the Writer rotates before a
// record would take the live file past MaxBytes, so the cap holds at every
// instant. Rotated files are not compressed.
//
// The Writer never lets a full or failing disk back-pressure a container: a
// record that cannot be written is counted and dropped, the stream keeps
// being drained, and the next record tries the disk again.
package containerlog
