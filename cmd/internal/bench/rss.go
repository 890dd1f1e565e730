package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

var (
	// ErrProcStatus reports a /proc/PID/status file that cannot be read or
	// parsed.
	ErrProcStatus = errors.New("bench: bad /proc status")

	// maxStatusBytes bounds how much of a status file is read; real ones are
	// about 1.5 KiB.
	maxStatusBytes int64 = 64 << 10
)

// procMemory is the memory part of /proc/PID/status, in bytes.
type procMemory struct {
	RSS int64 // VmRSS: current resident set size
	HWM int64 // VmHWM: peak resident set size since the process started
}

// parseStatus extracts VmRSS and VmHWM from the text of /proc/PID/status.
// Both must be present ("VmRSS:\t  1234 kB").
func parseStatus(data []byte) (procMemory, error) {
	var m procMemory
	var haveRSS, haveHWM bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 256), 4096)
	for sc.Scan() {
		line := sc.Bytes()
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst, haveRSS = &m.RSS, true
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst, haveHWM = &m.HWM, true
		default:
			continue
		}
		v, err := parseKB(line[len("VmXXX:"):])
		if err != nil {
			return procMemory{}, err
		}
		*dst = v
	}
	if err := sc.Err(); err != nil {
		return procMemory{}, fmt.Errorf("%w: %v", ErrProcStatus, err)
	}
	if !haveRSS || !haveHWM {
		return procMemory{}, fmt.Errorf("%w: VmRSS or VmHWM missing", ErrProcStatus)
	}
	return m, nil
}

// parseKB parses "  1234 kB" into bytes.
func parseKB(field []byte) (int64, error) {
	f := bytes.Fields(field)
	if len(f) != 2 || !bytes.Equal(f[1], []byte("kB")) {
		return 0, fmt.Errorf("%w: unexpected field %q", ErrProcStatus, field)
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
		return 0, fmt.Errorf("%w: bad size %q", ErrProcStatus, f[0])
	}
	return kb * 1024, nil
}

// readStatus reads and parses /proc/<pid>/status.
func readStatus(pid int) (procMemory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, fmt.Errorf("%w: %w", ErrProcStatus, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStatusBytes))
	if err != nil {
		return procMemory{}, fmt.Errorf("%w: %w", ErrProcStatus, err)
	}
	return parseStatus(data)
}

// rssSampler polls a process's resident set size and keeps the peak.
type rssSampler struct {
	pid     int
	peakRSS atomic.Int64
	lastHWM atomic.Int64
	errs    atomic.Int64
}

// sample takes one reading; it reports whether the read succeeded.
func (s *rssSampler) sample() error {
	m, err := readStatus(s.pid)
	if err != nil {
		s.errs.Add(1)
		return err
	}
	for {
		cur := s.peakRSS.Load()
		if m.RSS <= cur || s.peakRSS.CompareAndSwap(cur, m.RSS) {
			break
		}
	}
	s.lastHWM.Store(m.HWM)
	return nil
}

// run samples every interval until ctx is done, then takes a final sample.
func (s *rssSampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = s.sample() // the process may have exited; errs counts it
			return
		case <-t.C:
			_ = s.sample()
		}
	}
}
