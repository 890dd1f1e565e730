package bench

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRegisterFlagsDefaults(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	got := RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if want := DefaultOptions(); !reflect.DeepEqual(*got, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", *got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	for _, name := range []string{"brokers", "topic", "partitions", "producers", "consumers", "record-size",
		"acks", "rate", "duration", "warmup", "compression", "linger", "batch-max-bytes", "max-inflight",
		"broker-pid", "json"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s missing", name)
		}
	}
}

func TestRegisterFlagsParse(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	got := RegisterFlags(fs)
	args := []string{"--brokers", "a:1, b:2", "--topic", "t", "--partitions", "3", "--producers", "2",
		"--consumers", "0", "--record-size", "100", "--acks", "1", "--rate", "20000", "--duration", "10s",
		"--warmup", "1s", "--compression", "zstd", "--linger", "5ms", "--batch-max-bytes", "65536",
		"--max-inflight", "5", "--broker-pid", "42", "--progress", "2s", "--json"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := Options{Brokers: []string{"a:1", "b:2"}, Topic: "t", Partitions: 3, Producers: 2, RecordSize: 100,
		Acks: 1, Rate: 20000, Duration: 10 * time.Second, Warmup: time.Second, Compression: "zstd",
		Linger: 5 * time.Millisecond, BatchMaxBytes: 65536, MaxInflight: 5, BrokerPID: 42, ProgressInterval: 2 * time.Second, JSON: true}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("parsed\n got %+v\nwant %+v", *got, want)
	}
}

func TestRegisterFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--partitions", "99999999999"},
		{"--batch-max-bytes", "x"},
		{"--brokers", " , "},
	} {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		RegisterFlags(fs)
		if err := fs.Parse(args); err == nil {
			t.Errorf("%v: parse succeeded", args)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Options)
		want   string // substring of the error; "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"unthrottled no consumers", func(o *Options) { o.Rate, o.Consumers, o.Warmup = 0, 0, 0 }, ""},
		{"no brokers", func(o *Options) { o.Brokers = nil }, "no brokers"},
		{"empty broker", func(o *Options) { o.Brokers = []string{" "} }, "empty broker"},
		{"no topic", func(o *Options) { o.Topic = "" }, "topic name"},
		{"zero partitions", func(o *Options) { o.Partitions = 0 }, "partitions"},
		{"zero producers", func(o *Options) { o.Producers = 0 }, "producers"},
		{"too many consumers", func(o *Options) { o.Consumers = 5000 }, "consumers"},
		{"tiny record", func(o *Options) { o.RecordSize = 7 }, "record size"},
		{"huge record", func(o *Options) { o.RecordSize = 1 << 30 }, "record size"},
		{"acks 2", func(o *Options) { o.Acks = 2 }, "acks"},
		{"negative rate", func(o *Options) { o.Rate = -1 }, "rate"},
		{"zero duration", func(o *Options) { o.Duration = 0 }, "duration"},
		{"negative warmup", func(o *Options) { o.Warmup = -time.Second }, "warmup"},
		{"brotli", func(o *Options) { o.Compression = "brotli" }, "compression"},
		{"negative linger", func(o *Options) { o.Linger = -1 }, "linger"},
		{"small batch", func(o *Options) { o.BatchMaxBytes = 100 }, "batch max bytes"},
		{"negative inflight", func(o *Options) { o.MaxInflight = -1 }, "max inflight"},
		{"negative pid", func(o *Options) { o.BrokerPID = -1 }, "broker pid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.modify(&o)
			err := o.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("error %v, want one containing %q wrapping ErrInvalidOptions", err, tc.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	o := DefaultOptions()
	o.Acks, o.Compression, o.Duration = 3, "x", 0
	err := o.Validate()
	for _, want := range []string{"acks", "compression", "duration"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}
