//go:build !race

package blockstm

const raceEnabled = false
