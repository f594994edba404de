package update

import (
	"log"
	"strings"

	"k8s.io/klog/v2"
)

// serverLog is net/http's error log, through klog. init's health check
// of the service opens a TCP connection and closes it without a TLS
// handshake every few seconds; those EOFs are not worth a line each.
func serverLog() *log.Logger {
	return log.New(logWriter{}, "", 0)
}

type logWriter struct{}

func (logWriter) Write(b []byte) (int, error) {
	line := strings.TrimSpace(string(b))
	if strings.Contains(line, "TLS handshake error") && strings.HasSuffix(line, "EOF") {
		return len(b), nil
	}
	klog.Warningf("update: %s", line)
	return len(b), nil
}
