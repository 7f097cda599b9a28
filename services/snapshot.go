package services

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/openapi"
)

// snapshotTimeout bounds one snapshot download: the stream pins the state
// it started from, which holds back the ledger's compactions.
const snapshotTimeout = 30 * time.Minute

// ExportSnapshot implements openapi.StrictServerInterface.
func (s *Server) ExportSnapshot(_ context.Context, req openapi.ExportSnapshotRequestObject) (openapi.ExportSnapshotResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	return snapshotStream{r: r, log: s.log}, nil
}

// snapshotStream writes the snapshot straight to the response, beyond the
// server's usual write timeout.
type snapshotStream struct {
	r   *replica.Replica
	log *slog.Logger
}

func (st snapshotStream) VisitExportSnapshotResponse(w http.ResponseWriter) error {
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(snapshotTimeout)); err != nil {
		st.log.Warn("snapshot: cannot extend the write deadline", "err", err)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	h, err := st.r.WriteSnapshot(w)
	if err != nil {
		// The status is sent: the client sees a stream that fails its checks.
		st.log.Warn("snapshot: stream cut", "chain", st.r.Genesis().ChainID, "height", h, "err", err)
	}
	return nil
}
