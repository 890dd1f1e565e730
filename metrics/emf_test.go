package metrics

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// emfDoc is an EMF record as CloudWatch reads it.
type emfDoc struct {
	AWS struct {
		Timestamp         int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

// TestEMFRecordsUseMSKNamesAndDimensions checks the records against the EMF specification's
// structure (every dimension and metric named in _aws is a top-level member; at most 30
// dimensions and 100 metrics) and MSK's names: cluster, broker, per-topic bytes and consumer lag
// at DEFAULT, the request time breakdown only at PER_BROKER.
func TestEMFRecordsUseMSKNamesAndDimensions(t *testing.T) {
	src := newFakeSource(2, 2, 1)
	now := time.Unix(1_800_000_000, 0)
	for _, level := range []Level{Default, PerBroker} {
		// The publisher gathers from a collector at its own level (cmd/bulwark builds one).
		fams, err := NewRegistry(src, New(src, Options{Level: func() Level { return level }})).Gather()
		if err != nil {
			t.Fatal(err)
		}
		lines := BuildEMF(fams, EMFOptions{Namespace: "Bulwark/Kafka", ClusterName: "prod", BrokerID: "1", Level: level}, now)
		seen := map[string]map[string]any{}
		for _, l := range lines {
			var d emfDoc
			if err := json.Unmarshal(l, &d); err != nil {
				t.Fatalf("not JSON: %s", l)
			}
			var top map[string]any
			_ = json.Unmarshal(l, &top)
			if d.AWS.Timestamp != now.UnixMilli() || len(d.AWS.CloudWatchMetrics) != 1 {
				t.Fatalf("_aws metadata: %s", l)
			}
			cwm := d.AWS.CloudWatchMetrics[0]
			if cwm.Namespace != "Bulwark/Kafka" || len(cwm.Dimensions) != 1 || len(cwm.Dimensions[0]) > 30 || len(cwm.Metrics) > 100 {
				t.Fatalf("directive: %s", l)
			}
			for _, dim := range cwm.Dimensions[0] {
				if _, ok := top[dim].(string); !ok {
					t.Errorf("dimension %s has no string value: %s", dim, l)
				}
			}
			for _, m := range cwm.Metrics {
				if _, ok := top[m.Name].(float64); !ok {
					t.Errorf("metric %s has no value: %s", m.Name, l)
				}
			}
			seen[strings.Join(cwm.Dimensions[0], ",")] = top
		}
		cluster, broker := seen["Cluster Name"], seen["Cluster Name,Broker ID"]
		if cluster["ActiveControllerCount"] != 1.0 || cluster["GlobalTopicCount"] != 2.0 || cluster["Cluster Name"] != "prod" {
			t.Errorf("%v cluster record: %v", level, cluster)
		}
		if broker["PartitionCount"] != 4.0 || broker["Broker ID"] != "1" || broker["BytesInPerSec"] == nil {
			t.Errorf("%v broker record: %v", level, broker)
		}
		if topic := seen["Cluster Name,Broker ID,Topic"]; topic == nil || topic["BytesInPerSec"] == nil {
			t.Errorf("%v: no per-topic record", level)
		}
		if lag := seen["Cluster Name,Consumer Group,Topic"]; lag == nil || lag["SumOffsetLag"] != 200.0 {
			t.Errorf("%v lag record: %v", level, lag)
		}
		if _, ok := broker["ProduceLocalTimeMsMean"]; ok != (level == PerBroker) {
			t.Errorf("%v: request breakdown present=%v", level, ok)
		}
	}
}
