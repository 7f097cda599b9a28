//go:build race

package blockstm

const raceEnabled = true
