package txn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzRestore feeds arbitrary journal entries to Restore (a damaged or hostile journal), then
// starts the coordinator and drives the restored transactional id: Restore must refuse what it
// cannot use, and nothing after it may panic or hand out a producer id twice.
func FuzzRestore(f *testing.F) {
	f.Add([]byte("txn/a"), []byte(`{"version":1,"pid":5,"epoch":3,"state":"PrepareCommit","timeout_ms":60000,"partitions":[{"Topic":"t","Partition":0}]}`))
	f.Add([]byte("txn/a"), []byte(`{"version":1,"pid":5,"epoch":32767,"state":"Ongoing","timeout_ms":1}`))
	f.Add([]byte("pid"), []byte(`{"start":10,"end":20}`))
	f.Add([]byte("txn/"), []byte(`{}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		e := &env{t: t, dir: t.TempDir(), cfg: Config{AbortCheckInterval: 10 * time.Millisecond}}
		e.open(false)
		if err := e.c.Restore(key, value); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := e.c.Start(ctx); err != nil {
			return
		}
		id := strings.TrimPrefix(string(key), KeyPrefix)
		e.c.DescribeTransactions(0, &kmsg.DescribeTransactionsRequest{TransactionalIDs: []string{id}})
		e.c.ListTransactions(1, &kmsg.ListTransactionsRequest{})
		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID, init.TransactionTimeoutMillis = &id, 1000
		r := e.c.InitProducerID(ctx, 4, init)
		if r.ErrorCode == 0 {
			pid, err := e.c.NextProducerID(ctx)
			if err == nil && pid == r.ProducerID {
				t.Fatalf("producer id %d handed out twice", pid)
			}
		}
	})
}
