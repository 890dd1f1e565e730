package bench

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

const sampleStatus = "Name:\tbulwark\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1290144 kB\n" +
	"VmSize:\t 1289888 kB\nVmHWM:\t   52344 kB\nVmRSS:\t   48120 kB\nThreads:\t12\n"

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procMemory
		wantErr bool
	}{
		{"real", sampleStatus, procMemory{RSS: 48120 * 1024, HWM: 52344 * 1024}, false},
		{"zero", "VmRSS: 0 kB\nVmHWM: 0 kB\n", procMemory{}, false},
		{"missing hwm", "VmRSS:\t 12 kB\n", procMemory{}, true},
		{"missing both (kernel thread)", "Name:\tkthreadd\n", procMemory{}, true},
		{"bad unit", "VmRSS:\t 12 MB\nVmHWM:\t 12 kB\n", procMemory{}, true},
		{"negative", "VmRSS:\t -12 kB\nVmHWM:\t 12 kB\n", procMemory{}, true},
		{"overflow", "VmRSS:\t 9223372036854775807 kB\nVmHWM:\t 1 kB\n", procMemory{}, true},
		{"not a number", "VmRSS:\t x kB\nVmHWM:\t 1 kB\n", procMemory{}, true},
		{"empty", "", procMemory{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrProcStatus) {
				t.Fatalf("error %v does not wrap ErrProcStatus", err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRSSSamplerSelf(t *testing.T) {
	s := &rssSampler{pid: os.Getpid()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx, time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for s.peakRSS.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if s.peakRSS.Load() <= 0 || s.lastHWM.Load() < s.peakRSS.Load()/2 {
		t.Fatalf("peak RSS %d, HWM %d", s.peakRSS.Load(), s.lastHWM.Load())
	}
}

func TestReadStatusNoProcess(t *testing.T) {
	if _, err := readStatus(1 << 30); !errors.Is(err, ErrProcStatus) {
		t.Fatalf("err = %v, want ErrProcStatus", err)
	}
}

// FuzzParseStatus: parseStatus never panics; on success both sizes are
// non-negative multiples of 1024.
func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(sampleStatus))
	f.Add([]byte("VmRSS: 1 kB\nVmHWM: 2 kB"))
	f.Add([]byte("VmRSS:\nVmHWM:"))
	f.Add([]byte("VmRSS: 99999999999999999999 kB\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseStatus(data)
		if err != nil {
			return
		}
		if m.RSS < 0 || m.HWM < 0 || m.RSS%1024 != 0 || m.HWM%1024 != 0 {
			t.Fatalf("bad result %+v", m)
		}
	})
}
