package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker/config"
)

const logsUsage = `usage: bulwark logs [--config FILE] [--dir DIR] [--tail N]

prints the broker log's rotated files (JSON lines, oldest first), opening them with the key
provider of encryption at rest when they are encrypted (they are whenever it is on). --config
names the broker's server.properties (the directory and keys come from it); --dir a directory
of broker log files; --tail N prints only the last N lines.
`

// cmdLogs implements `bulwark logs`: the broker log files are encrypted at rest, so this is how an
// operator reads them on the host (the copies shipped to CloudWatch Logs, Firehose or S3 are
// plaintext JSON there).
func cmdLogs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "server.properties of the broker (default: the embedded defaults)")
	dir := fs.String("dir", "", "the broker log's directory (default: from the configuration)")
	tail := fs.Int("tail", 0, "print only the last N lines (0: all)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *tail < 0 {
		fmt.Fprint(stderr, logsUsage)
		return 2
	}
	cfg := config.Default()
	if *cfgFile != "" {
		var err error
		if cfg, err = config.Load(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "bulwark logs: %s: %v\n", *cfgFile, err)
			return 1
		}
	}
	d := *dir
	if d == "" {
		if cfg.LogDir == "-" {
			fmt.Fprintln(stderr, "bulwark logs: bulwark.log.dir is -: the broker writes no log files")
			return 1
		}
		d = brokerLogDir(cfg)
	}
	kp, err := verifyKeys(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark logs:", err)
		return 1
	}
	var ring [][]byte // the last --tail lines
	next := 0
	err = audit.EachLine(d, brokerLogStream, kp, func(line []byte) error {
		if *tail == 0 {
			_, err := fmt.Fprintf(stdout, "%s\n", line)
			return err
		}
		if len(ring) < *tail {
			ring = append(ring, append([]byte(nil), line...))
		} else {
			ring[next] = append(ring[next][:0], line...)
			next = (next + 1) % *tail
		}
		return nil
	})
	for i := range ring {
		fmt.Fprintf(stdout, "%s\n", ring[(next+i)%len(ring)])
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark logs:", err)
		return 1
	}
	return 0
}
