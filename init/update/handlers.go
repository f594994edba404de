package update

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"k8s.io/klog/v2"
)

// handlePush takes a bundle as the request body.
func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	release, err := s.begin()
	if err != nil {
		replyError(w, err)
		return
	}
	defer release()
	body := &idleReader{r: http.MaxBytesReader(w, r.Body, maxBundle), rc: http.NewResponseController(w)}
	res, err := s.install(r.Context(), body)
	s.reply(w, r, res, err)
}

// reply sends the result of an update and, for one on trial, schedules
// the reboot into it.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, res Result, err error) {
	if err != nil {
		replyError(w, err)
		return
	}
	res.Reboot = s.c.Reboot != nil && r.URL.Query().Get("reboot") != "false"
	writeJSONReply(w, http.StatusOK, res)
	if res.Reboot {
		http.NewResponseController(w).Flush()
		s.scheduleReboot()
	}
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSONReply(w, http.StatusOK, s.Status())
}

func replyError(w http.ResponseWriter, err error) {
	e := refusal(err)
	if e.Status >= 500 {
		klog.Errorf("update: %v", err)
	}
	// A refusal before the body was read: the connection cannot be
	// reused, and saying so lets the client stop sending.
	w.Header().Set("Connection", "close")
	writeJSONReply(w, e.Status, e)
}

func writeJSONReply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		klog.V(2).Infof("update: reply: %v", err)
	}
}

// idleReader reads a request body with a deadline renewed on every read:
// a slow link may take long in all, but not a minute of silence.
type idleReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (i *idleReader) Read(b []byte) (int, error) {
	if err := i.rc.SetReadDeadline(time.Now().Add(idleTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return i.r.Read(b)
}
