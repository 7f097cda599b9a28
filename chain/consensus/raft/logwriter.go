package raft

import (
	"bytes"
	"log/slog"
)

// logWriter passes hashicorp/raft's log lines (hclog text) to slog: errors
// at Warn (a partition makes raft log one per failed RPC), the rest at Debug.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	if bytes.Contains(p, []byte("[ERROR]")) {
		w.l.Warn(line)
	} else {
		w.l.Debug(line)
	}
	return len(p), nil
}
