package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionsOptions configures `bulwark bench partitions`: how long a broker takes to create many
// partitions, and to answer a Metadata request naming all of them (issue 17's scale figures).
type PartitionsOptions struct {
	Brokers            []string
	Topics             int    // topics to create
	PartitionsPerTopic int32  // partitions each
	Prefix             string // topic names are <prefix>-<n>
	MetadataRuns       int    // all-topics Metadata requests timed after the creation
	BrokerPID          int    // if positive, the broker's peak RSS (VmHWM) is reported
	ClientOpts         []kgo.Opt
	Out                io.Writer // a progress line every ten topics; nil = discard
}

// PartitionsResult is what `bench partitions` measured.
type PartitionsResult struct {
	Topics, Partitions int
	Create             time.Duration   // all CreateTopics requests, one after another
	SlowestTopic       time.Duration   // the longest single CreateTopics
	Metadata           []time.Duration // each all-topics Metadata request
	MetadataPartitions int             // partitions the last Metadata response listed
	BrokerHWM          int64           // broker's peak RSS in bytes (0: not measured)
}

// RunPartitions creates the topics one CreateTopics request at a time (as an operator's script
// would), then times Metadata for every topic the broker has.
func RunPartitions(ctx context.Context, opts PartitionsOptions) (*PartitionsResult, error) {
	if opts.Topics <= 0 || opts.PartitionsPerTopic <= 0 || int64(opts.Topics)*int64(opts.PartitionsPerTopic) > 10*maxPartitions {
		return nil, fmt.Errorf("%w: %d topics of %d partitions", ErrInvalidOptions, opts.Topics, opts.PartitionsPerTopic)
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	// A CreateTopics of thousands of partitions may take longer than kgo's default request
	// timeout allows on a slow disk.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(opts.Brokers...), kgo.ClientID("bulwark-bench"),
		kgo.RequestTimeoutOverhead(5 * time.Minute)}, opts.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("bench: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	res := &PartitionsResult{Topics: opts.Topics, Partitions: opts.Topics * int(opts.PartitionsPerTopic)}
	start := time.Now()
	for i := range opts.Topics {
		name := fmt.Sprintf("%s-%d", opts.Prefix, i)
		t0 := time.Now()
		r, err := adm.CreateTopic(ctx, opts.PartitionsPerTopic, -1, nil, name)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			return res, fmt.Errorf("bench: create %s: %w", name, err)
		}
		res.SlowestTopic = max(res.SlowestTopic, time.Since(t0))
		if (i+1)%10 == 0 || i+1 == opts.Topics {
			fmt.Fprintf(out, "%d topics (%d partitions) created in %v\n", i+1, (i+1)*int(opts.PartitionsPerTopic), time.Since(start).Round(time.Millisecond))
		}
	}
	res.Create = time.Since(start)
	for range max(opts.MetadataRuns, 1) {
		t0 := time.Now()
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl) // no topics named: all of them
		if err != nil {
			return res, fmt.Errorf("bench: metadata: %w", err)
		}
		res.Metadata = append(res.Metadata, time.Since(t0))
		res.MetadataPartitions = 0
		for _, t := range resp.Topics {
			if t.ErrorCode != 0 {
				return res, errors.New("bench: metadata: a topic answered with an error")
			}
			res.MetadataPartitions += len(t.Partitions)
		}
	}
	if opts.BrokerPID > 0 {
		m, err := readStatus(opts.BrokerPID)
		if err != nil {
			return res, err
		}
		res.BrokerHWM = m.HWM
	}
	return res, nil
}

// Report writes the result as a few lines of text.
func (r *PartitionsResult) Report(w io.Writer) error {
	md := slices.Clone(r.Metadata)
	slices.Sort(md)
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("created %d topics, %d partitions, in %v (%.2f ms per partition; slowest CreateTopics %v)\n",
		r.Topics, r.Partitions, r.Create.Round(time.Millisecond), float64(r.Create)/float64(time.Millisecond)/float64(max(r.Partitions, 1)), r.SlowestTopic.Round(time.Millisecond))
	if len(md) > 0 {
		p("metadata for all topics (%d partitions): median %v, slowest %v over %d requests\n",
			r.MetadataPartitions, md[len(md)/2].Round(time.Millisecond), md[len(md)-1].Round(time.Millisecond), len(md))
	}
	if r.BrokerHWM > 0 {
		p("broker peak RSS: %.0f MiB\n", float64(r.BrokerHWM)/float64(mib))
	}
	return err
}
