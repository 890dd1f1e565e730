package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/cmd/internal/bench"
)

// cmdBench runs the load generator against any Kafka broker and prints throughput and latency;
// `bench sweep` runs it at a series of rates and charts the latency–throughput curve.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sweep" {
		return cmdBenchSweep(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "partitions" {
		return cmdBenchPartitions(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := bench.RegisterFlags(fs)
	sec, ok := parseBenchFlags("bulwark bench", fs, args, stderr)
	if !ok {
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

// cmdBenchSweep runs the benchmark at each of --rates (on a fresh topic each) up to saturation
// and writes the curve as a CSV and an SVG chart.
func cmdBenchSweep(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := bench.RegisterFlags(fs)
	rates := fs.String("rates", "20000,50000,100000,150000,200000,250000,300000,0",
		"offered rates in records/s, ascending; 0 (unthrottled) may come last")
	csvPath := fs.String("csv", "sweep.csv", "where to write the CSV")
	svgPath := fs.String("svg", "sweep.svg", "where to write the SVG chart")
	title := fs.String("title", "", "chart title (default: the run's shape)")
	stop := fs.Bool("stop-at-saturation", true, "stop after the first rate whose achieved throughput is under 90% of the offered rate")
	sec, ok := parseBenchFlags("bulwark bench sweep", fs, args, stderr)
	if !ok {
		return 2
	}
	list, err := bench.ParseRates(*rates)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark bench sweep:", err)
		return 2
	}
	opts.ClientOpts = sec
	opts.Out = stdout
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	results, runErr := bench.Sweep(ctx, bench.SweepOptions{Run: *opts, Rates: list, StopAtSaturation: *stop})
	for _, r := range results {
		fmt.Fprintln(stdout, r.Summary())
	}
	if len(results) > 0 {
		t := *title
		if t == "" {
			t = fmt.Sprintf("%d-byte records, %d partitions, %d producers, %d consumers, acks %d, compression %s",
				opts.RecordSize, opts.Partitions, opts.Producers, opts.Consumers, opts.Acks, opts.Compression)
		}
		if err := writeFile(*csvPath, func(w io.Writer) error { return bench.WriteCSV(w, results) }); err != nil {
			fmt.Fprintln(stderr, "bulwark bench sweep:", err)
			return 1
		}
		if err := writeFile(*svgPath, func(w io.Writer) error { return bench.WriteSVG(w, results, t) }); err != nil {
			fmt.Fprintln(stderr, "bulwark bench sweep:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s and %s (%d rates)\n", *csvPath, *svgPath, len(results))
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "bulwark bench sweep:", runErr)
		return 1
	}
	return 0
}

// cmdBenchPartitions creates many partitions and times it, and Metadata for all of them.
func cmdBenchPartitions(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench partitions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := bench.PartitionsOptions{Brokers: []string{"127.0.0.1:9092"}}
	brokers := fs.String("brokers", "127.0.0.1:9092", "comma-separated seed brokers (host:port)")
	fs.IntVar(&opts.Topics, "topics", 100, "topics to create")
	partitions := fs.Int("partitions", 1000, "partitions per topic")
	fs.StringVar(&opts.Prefix, "prefix", "bulwark-scale", "topic name prefix (<prefix>-<n>)")
	fs.IntVar(&opts.MetadataRuns, "metadata-runs", 5, "all-topics Metadata requests to time after the creation")
	fs.IntVar(&opts.BrokerPID, "broker-pid", 0, "broker process id whose peak RSS to report (0 = off)")
	sec, ok := parseBenchFlags("bulwark bench partitions", fs, args, stderr)
	if !ok {
		return 2
	}
	opts.Brokers = strings.Split(*brokers, ",")
	opts.PartitionsPerTopic = int32(min(*partitions, math.MaxInt32))
	opts.ClientOpts, opts.Out = sec, stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.RunPartitions(ctx, opts)
	if res != nil {
		if rerr := res.Report(stdout); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark bench partitions:", err)
		return 1
	}
	return 0
}

// parseBenchFlags adds the TLS and SASL flags to fs, parses args and returns the client options
// they ask for; false (after saying why on stderr) means the command line is wrong.
func parseBenchFlags(name string, fs *flag.FlagSet, args []string, stderr io.Writer) ([]kgo.Opt, bool) {
	var cf clientFlags
	cf.registerSecurity(fs)
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	sec, err := cf.securityOptions()
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return nil, false
	}
	return sec, true
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
