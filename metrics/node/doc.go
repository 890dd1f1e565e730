// Package node serves host metrics under Prometheus node exporter's names, as Amazon MSK's
// node-exporter port (11002) shows them, so the CPU, memory, disk and network panels of MSK
// dashboards work against Bulwark: CPU time per mode, load, memory, space and inode counts of the
// file systems holding the log directories, block-device I/O, network traffic and open files.
//
// It reads /proc and /sys (Linux) at scrape time through prometheus/procfs and keeps no state;
// on other systems the Linux-only families are absent. A collector that fails to read its source
// skips its families for that scrape and logs the error once per family and error text.
package node
