package zk

import "github.com/consensys/gnark/logger"

// gnark logs to stdout with wall-clock timestamps by default. This package
// is gnark's only importer in Polity (internal/lint), and a verifier runs
// inside chain modules, so gnark's global logger is silenced once here;
// errors reach callers as returned values.
func init() { logger.Disable() }
