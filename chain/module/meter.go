package module

import "fmt"

// Work costs. They are part of the consensus rules: changing one changes
// receipts, so it needs a new chain version.
const (
	CostTx        = 1000 // per transaction
	CostTxByte    = 2    // per byte of arguments
	CostRead      = 100
	CostReadByte  = 1
	CostWrite     = 200
	CostWriteByte = 5
	CostEvent     = 50

	// DefaultTxWorkLimit is the per-transaction work limit unless the genesis sets one.
	DefaultTxWorkLimit = 10_000_000
)

// Meter counts work against a limit. Not safe for concurrent use: each
// transaction has its own.
type Meter struct {
	used, limit uint64
}

// NewMeter returns a meter with the given limit.
func NewMeter(limit uint64) *Meter { return &Meter{limit: limit} }

// Charge adds units, failing with ErrOutOfWork (and pinning used at the
// limit) when the limit would be passed.
func (m *Meter) Charge(units uint64) error {
	if units > m.limit-m.used {
		m.used = m.limit
		return fmt.Errorf("%w: limit %d", ErrOutOfWork, m.limit)
	}
	m.used += units
	return nil
}

// Used returns the units spent.
func (m *Meter) Used() uint64 { return m.used }
