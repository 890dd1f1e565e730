package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bulwark-kafka/bulwark/cmd/internal/bench"
)

// cmdBench runs the load generator against any Kafka broker and prints throughput and latency.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := bench.RegisterFlags(fs)
	var cf clientFlags
	cf.registerSecurity(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sec, err := cf.securityOptions()
	if err != nil {
		fmt.Fprintln(stderr, "bulwark bench:", err)
		return 2
	}
	opts.ClientOpts = sec
	opts.Out = stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, *opts)
	if res != nil {
		// An interrupted run still reports what it measured before the interruption.
		if rerr := res.Report(stdout, opts.JSON); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark bench:", err)
		return 1
	}
	return 0
}
