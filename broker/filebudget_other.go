//go:build !linux

package broker

// noFiles is the budget where the descriptors in use cannot be counted: admission is skipped.
type noFiles struct{}

func (noFiles) limitAndUse() (uint64, uint64, bool) { return 0, 0, false }

var processFiles fileBudget = noFiles{}
