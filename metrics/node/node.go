package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"
)

// Collector is the node-exporter-compatible collector.
type Collector struct {
	logDirs []string
	logger  *slog.Logger
	proc    procfs.FS
	block   blockdevice.FS
	procErr error

	mu     sync.Mutex
	logged map[string]bool
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a collector reporting the file systems that hold logDirs.
func New(logDirs []string, logger *slog.Logger) *Collector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{logDirs: logDirs, logger: logger, logged: map[string]bool{}}
	c.proc, c.procErr = procfs.NewFS(procfs.DefaultMountPoint)
	if c.procErr == nil {
		c.block, c.procErr = blockdevice.NewFS(procfs.DefaultMountPoint, "/sys")
	}
	return c
}

// Describe sends nothing: which devices and mounts exist is known only at scrape time.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	cpuSeconds      = desc("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "cpu", "mode")
	load1           = desc("node_load1", "1m load average.")
	load5           = desc("node_load5", "5m load average.")
	load15          = desc("node_load15", "15m load average.")
	fsSize          = desc("node_filesystem_size_bytes", "Filesystem size in bytes.", "device", "mountpoint", "fstype")
	fsFree          = desc("node_filesystem_free_bytes", "Filesystem free space in bytes.", "device", "mountpoint", "fstype")
	fsAvail         = desc("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", "device", "mountpoint", "fstype")
	fsFiles         = desc("node_filesystem_files", "Filesystem total file nodes.", "device", "mountpoint", "fstype")
	fsFilesFree     = desc("node_filesystem_files_free", "Filesystem total free file nodes.", "device", "mountpoint", "fstype")
	diskReadBytes   = desc("node_disk_read_bytes_total", "The total number of bytes read successfully.", "device")
	diskWriteBytes  = desc("node_disk_written_bytes_total", "The total number of bytes written successfully.", "device")
	diskReads       = desc("node_disk_reads_completed_total", "The total number of reads completed successfully.", "device")
	diskWrites      = desc("node_disk_writes_completed_total", "The total number of writes completed successfully.", "device")
	diskIOTime      = desc("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", "device")
	diskReadTime    = desc("node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", "device")
	diskWriteTime   = desc("node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", "device")
	netRxBytes      = desc("node_network_receive_bytes_total", "Network device statistic receive_bytes.", "device")
	netTxBytes      = desc("node_network_transmit_bytes_total", "Network device statistic transmit_bytes.", "device")
	netRxPackets    = desc("node_network_receive_packets_total", "Network device statistic receive_packets.", "device")
	netTxPackets    = desc("node_network_transmit_packets_total", "Network device statistic transmit_packets.", "device")
	netRxErrs       = desc("node_network_receive_errs_total", "Network device statistic receive_errs.", "device")
	netTxErrs       = desc("node_network_transmit_errs_total", "Network device statistic transmit_errs.", "device")
	netRxDrop       = desc("node_network_receive_drop_total", "Network device statistic receive_drop.", "device")
	netTxDrop       = desc("node_network_transmit_drop_total", "Network device statistic transmit_drop.", "device")
	fileFDAllocated = desc("node_filefd_allocated", "File descriptor statistics: allocated.")
	fileFDMaximum   = desc("node_filefd_maximum", "File descriptor statistics: maximum.")
)

// Collect reads every source once.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.procErr != nil {
		c.logOnce("procfs", c.procErr)
		return
	}
	c.cpu(ch)
	c.load(ch)
	c.memory(ch)
	c.filesystems(ch)
	c.disks(ch)
	c.network(ch)
	c.fileFDs(ch)
}

func (c *Collector) logOnce(family string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := family + ": " + err.Error()
	if !c.logged[key] {
		c.logged[key] = true
		c.logger.Warn("host metrics: cannot read", "family", family, "err", err)
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func (c *Collector) cpu(ch chan<- prometheus.Metric) {
	st, err := c.proc.Stat()
	if err != nil {
		c.logOnce("cpu", err)
		return
	}
	for n, s := range st.CPU {
		cpu := strconv.FormatInt(n, 10)
		for mode, v := range map[string]float64{"user": s.User, "nice": s.Nice, "system": s.System, "idle": s.Idle,
			"iowait": s.Iowait, "irq": s.IRQ, "softirq": s.SoftIRQ, "steal": s.Steal} {
			counter(ch, cpuSeconds, v, cpu, mode)
		}
	}
}

func (c *Collector) load(ch chan<- prometheus.Metric) {
	l, err := c.proc.LoadAvg()
	if err != nil {
		c.logOnce("load", err)
		return
	}
	gauge(ch, load1, l.Load1)
	gauge(ch, load5, l.Load5)
	gauge(ch, load15, l.Load15)
}

// memory reports /proc/meminfo as node_memory_<Field>_bytes, the node exporter's names.
func (c *Collector) memory(ch chan<- prometheus.Metric) {
	m, err := c.proc.Meminfo()
	if err != nil {
		c.logOnce("meminfo", err)
		return
	}
	for name, v := range map[string]*uint64{"MemTotal": m.MemTotalBytes, "MemFree": m.MemFreeBytes,
		"MemAvailable": m.MemAvailableBytes, "Buffers": m.BuffersBytes, "Cached": m.CachedBytes,
		"SwapTotal": m.SwapTotalBytes, "SwapFree": m.SwapFreeBytes, "Dirty": m.DirtyBytes} {
		if v != nil {
			gauge(ch, desc("node_memory_"+name+"_bytes", "Memory information field "+name+"_bytes."), float64(*v))
		}
	}
}

// filesystems reports each distinct file system holding a log directory: the mount with the
// longest mount point that contains the directory.
func (c *Collector) filesystems(ch chan<- prometheus.Metric) {
	mounts, err := procfs.GetMounts()
	if err != nil {
		c.logOnce("filesystem", err)
		return
	}
	seen := map[string]bool{}
	for _, dir := range c.logDirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		var best *procfs.MountInfo
		for _, m := range mounts {
			if within(abs, m.MountPoint) && (best == nil || len(m.MountPoint) >= len(best.MountPoint)) {
				best = m
			}
		}
		if best == nil || seen[best.MountPoint] {
			continue
		}
		seen[best.MountPoint] = true
		st, err := statfs(best.MountPoint)
		if err != nil {
			c.logOnce("filesystem", err)
			continue
		}
		lv := []string{best.Source, best.MountPoint, best.FSType}
		gauge(ch, fsSize, float64(st.size), lv...)
		gauge(ch, fsFree, float64(st.free), lv...)
		gauge(ch, fsAvail, float64(st.avail), lv...)
		gauge(ch, fsFiles, float64(st.files), lv...)
		gauge(ch, fsFilesFree, float64(st.filesFree), lv...)
	}
}

// within reports whether path is mount or below it.
func within(path, mount string) bool {
	if mount == "/" {
		return true
	}
	return path == mount || strings.HasPrefix(path, mount+string(os.PathSeparator))
}

// partitionDevice matches what node exporter leaves out by default: RAM, loop and floppy
// devices, and partitions of whole disks it already reports.
var partitionDevice = regexp.MustCompile(`^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`)

// sectorSize is the unit of /proc/diskstats' sector counts (always 512 bytes).
const sectorSize = 512

func (c *Collector) disks(ch chan<- prometheus.Metric) {
	stats, err := c.block.ProcDiskstats()
	if err != nil {
		c.logOnce("diskstats", err)
		return
	}
	for _, d := range stats {
		if partitionDevice.MatchString(d.DeviceName) {
			continue
		}
		dev := d.DeviceName
		counter(ch, diskReadBytes, float64(d.ReadSectors*sectorSize), dev)
		counter(ch, diskWriteBytes, float64(d.WriteSectors*sectorSize), dev)
		counter(ch, diskReads, float64(d.ReadIOs), dev)
		counter(ch, diskWrites, float64(d.WriteIOs), dev)
		counter(ch, diskIOTime, float64(d.IOsTotalTicks)/1000, dev)
		counter(ch, diskReadTime, float64(d.ReadTicks)/1000, dev)
		counter(ch, diskWriteTime, float64(d.WriteTicks)/1000, dev)
	}
}

func (c *Collector) network(ch chan<- prometheus.Metric) {
	nd, err := c.proc.NetDev()
	if err != nil {
		c.logOnce("netdev", err)
		return
	}
	for name, l := range nd {
		counter(ch, netRxBytes, float64(l.RxBytes), name)
		counter(ch, netTxBytes, float64(l.TxBytes), name)
		counter(ch, netRxPackets, float64(l.RxPackets), name)
		counter(ch, netTxPackets, float64(l.TxPackets), name)
		counter(ch, netRxErrs, float64(l.RxErrors), name)
		counter(ch, netTxErrs, float64(l.TxErrors), name)
		counter(ch, netRxDrop, float64(l.RxDropped), name)
		counter(ch, netTxDrop, float64(l.TxDropped), name)
	}
}

// fileFDs reads /proc/sys/fs/file-nr: allocated, unused (always 0 on modern kernels), maximum.
func (c *Collector) fileFDs(ch chan<- prometheus.Metric) {
	b, err := os.ReadFile(filepath.Join(procfs.DefaultMountPoint, "sys/fs/file-nr"))
	if err != nil {
		c.logOnce("filefd", err)
		return
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return
	}
	alloc, err1 := strconv.ParseFloat(f[0], 64)
	maxFDs, err2 := strconv.ParseFloat(f[2], 64)
	if err1 != nil || err2 != nil {
		return
	}
	gauge(ch, fileFDAllocated, alloc)
	gauge(ch, fileFDMaximum, maxFDs)
}
