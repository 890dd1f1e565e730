package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwark-kafka/bulwark/audit"
	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/keys"
	"github.com/bulwark-kafka/bulwark/logship"
)

// verifySource is where `bulwark audit verify` reads the trail: its files (dir), the audit topic
// of a running broker, or an S3 prefix.
type verifySource struct {
	dir      string
	topic    string
	s3       string
	brokerID int32
	client   *clientFlags
}

// verifyTimeout bounds reading a trail back from a topic or S3.
const verifyTimeout = 10 * time.Minute

func auditVerify(cfg *config.Config, src verifySource, live, allowUnsigned, asJSON bool, stdout, stderr io.Writer) int {
	kp, err := verifyKeys(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark audit verify:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
	defer cancel()
	var rep *audit.Report
	where := src.dir
	switch {
	case src.topic != "" && src.s3 != "":
		fmt.Fprintln(stderr, "bulwark audit verify: --topic and --s3 name two places; verify one at a time")
		return 2
	case src.topic != "":
		where = "topic " + src.topic
		live = true // the topic receives a run's last records (the final checkpoint) after the next start
		rep, err = verifyTopic(ctx, src, kp)
	case src.s3 != "":
		where = src.s3
		live = true // likewise: the sink lags the trail
		rep, err = verifyS3(ctx, cfg, src, kp)
	default:
		rep, err = audit.VerifyDir(src.dir, auditStream, kp, live)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark audit verify:", err)
		return 1
	}
	return printVerifyReport(rep, where, live, allowUnsigned, asJSON, stdout, stderr)
}

// verifyKeys opens the key provider that checks checkpoint signatures, when there is one.
func verifyKeys(cfg *config.Config) (keys.Provider, error) {
	_, serr := os.Stat(cfg.KeyringPath())
	if cfg.EncryptionProvider == keys.AWSKMSProvider || serr == nil || cfg.EncryptionMasterKeyEnv != "" || cfg.EncryptionMasterKeyFile != "" {
		// Never create a keyring to verify with: a new one could vouch for nothing.
		return auditKeys(cfg)
	}
	return nil, nil
}

// verifyTopic reads the audit topic from its start to its end as it is now.
func verifyTopic(ctx context.Context, src verifySource, kp keys.Provider) (*audit.Report, error) {
	opts, err := src.client.options()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{src.topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, src.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", src.topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, src.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", src.topic, err)
	}
	start, _ := starts.Lookup(src.topic, 0)
	end, _ := ends.Lookup(src.topic, 0)
	v := audit.NewVerifier(auditStream, kp)
	v.DropRedelivered = true
	v.StartMayBeTrimmed = start.Offset > 0 // the topic's retention removed its oldest records
	next := start.Offset
	for idle := 0; next < end.Offset && idle < 2; {
		// Offsets up to end may hold no data records (transaction markers): two polls that
		// bring nothing end the read rather than wait for records that will not come.
		pollCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("topic %s: read up to offset %d of %d: %w", src.topic, next, end.Offset, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, err)
			}
		})
		if ferr != nil {
			return nil, fmt.Errorf("topic %s: %w", src.topic, ferr)
		}
		if fs.NumRecords() == 0 {
			idle++
			continue
		}
		idle = 0
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end.Offset {
				v.Line(src.topic, int(r.Offset), r.Value)
			}
			next = r.Offset + 1
		})
	}
	return v.Finish(true), nil
}

// verifyS3 reads one broker's objects under an S3 prefix in the order the sink wrote them.
func verifyS3(ctx context.Context, cfg *config.Config, src verifySource, kp keys.Provider) (*audit.Report, error) {
	u, err := url.Parse(src.s3)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("--s3: want s3://bucket/prefix, got %q", src.s3)
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.AWSRegion != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.AWSRegion))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	rd := logship.NewS3Reader(awsCfg, cfg.AWSEndpointS3, u.Host)
	objs, err := rd.Objects(ctx, strings.TrimPrefix(u.Path, "/"), auditLogType, src.brokerID)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no %s objects of broker %d under %s", auditLogType, src.brokerID, src.s3)
	}
	v := audit.NewVerifier(auditStream, kp)
	v.DropRedelivered = true
	v.StartMayBeTrimmed = true // a bucket's lifecycle rules expire the oldest objects
	for _, o := range objs {
		body, err := rd.Open(ctx, o.Key)
		if err != nil {
			return nil, err
		}
		err = v.Read("s3://"+u.Host+"/"+o.Key, body)
		_ = body.Close()
		if err != nil {
			return nil, err
		}
	}
	return v.Finish(true), nil
}

func printVerifyReport(rep *audit.Report, where string, live, allowUnsigned, asJSON bool, stdout, stderr io.Writer) int {
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(rep)
	} else {
		fmt.Fprintf(stdout, "%s: %d records (seq %d to %d) in %d files; %d checkpoints (%d signed, %d unsigned); clean close: %v\n",
			where, rep.Records, rep.FirstSeq, rep.LastSeq, rep.Files, rep.Checkpoints, rep.Signed, rep.Unsigned, rep.CleanClose)
		if rep.FirstSeq > 1 {
			fmt.Fprintf(stdout, "the trail starts at seq %d: earlier records were removed by retention or are elsewhere\n", rep.FirstSeq)
		}
		if rep.Redelivered > 0 {
			fmt.Fprintf(stdout, "%d records delivered more than once were dropped (byte-identical repeats)\n", rep.Redelivered)
		}
		if rep.Tail != "" && live {
			fmt.Fprintln(stdout, "open tail (live):", rep.Tail)
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, "PROBLEM", p.String())
		}
		if rep.ProblemsOmitted > 0 {
			fmt.Fprintf(stdout, "... and %d more problems\n", rep.ProblemsOmitted)
		}
	}
	if !rep.OK() {
		fmt.Fprintf(stderr, "bulwark audit verify: %d problems; the first: %s\n", len(rep.Problems)+rep.ProblemsOmitted, rep.Problems[0])
		return 1
	}
	if rep.Signed == 0 && !allowUnsigned {
		fmt.Fprintln(stderr, "bulwark audit verify: no checkpoint of the trail is signed (encryption at rest was off, or no key provider to check with): the chain is consistent, but anyone who can write the files could have rewritten it; --allow-unsigned accepts that")
		return 1
	}
	fmt.Fprintln(stdout, "OK")
	return 0
}
