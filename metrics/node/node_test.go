package node

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollectsTheMSKDashboardFamilies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("host metrics read /proc and /sys: Linux only") // the CI machine is Linux
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(New([]string{t.TempDir()}, nil))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range fams {
		got[f.GetName()] = len(f.GetMetric())
	}
	for _, name := range []string{"node_cpu_seconds_total", "node_load1", "node_memory_MemTotal_bytes",
		"node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes", "node_filesystem_size_bytes",
		"node_network_receive_bytes_total", "node_filefd_allocated", "node_filefd_maximum"} {
		if got[name] == 0 {
			t.Errorf("no %s series", name)
		}
	}
	if got["node_filesystem_avail_bytes"] != 1 {
		t.Errorf("%d file systems for one log directory", got["node_filesystem_avail_bytes"])
	}
	for _, f := range fams {
		if f.GetName() != "node_filesystem_avail_bytes" {
			continue
		}
		for _, l := range f.GetMetric()[0].GetLabel() {
			if l.GetName() == "mountpoint" && l.GetValue() == "" {
				t.Error("empty mountpoint")
			}
		}
	}
}

func TestPartitionsAreLeftOutLikeNodeExporter(t *testing.T) {
	for dev, skip := range map[string]bool{"sda": false, "sda1": true, "vda": false, "vda2": true, "nvme0n1": false,
		"nvme0n1p1": true, "loop0": true, "ram0": true, "dm-0": false, "md0": false} {
		if partitionDevice.MatchString(dev) != skip {
			t.Errorf("%s: left out = %v, want %v", dev, !skip, skip)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		path, mount string
		want        bool
	}{{"/data/kafka", "/", true}, {"/data/kafka", "/data", true}, {"/data2/x", "/data", false}, {"/data", "/data", true}} {
		if within(c.path, c.mount) != c.want {
			t.Errorf("within(%q, %q) != %v", c.path, c.mount, c.want)
		}
	}
}
