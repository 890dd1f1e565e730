package metrics

import (
	"fmt"
	"strings"
)

// Level is how much detail the endpoint serves, as Amazon MSK's monitoring levels define it.
// Each level includes every lower one.
type Level int

// The levels, lowest first.
const (
	// Default serves cluster and broker totals: the controller and replica-manager gauges,
	// BrokerTopicMetrics across all topics, Produce and Fetch total time, connections and
	// authentications per listener, consumer lag per group and topic, and Bulwark's own
	// families.
	Default Level = iota
	// PerBroker adds every request type's RequestMetrics (rates, errors, the time breakdown),
	// connection creation and close rates, re-authentications, and the group coordinator.
	PerBroker
	// PerTopicPerBroker adds BrokerTopicMetrics per topic.
	PerTopicPerBroker
	// PerTopicPerPartition adds the per-partition series: Log (size, segments, offsets) and
	// consumer lag per partition.
	PerTopicPerPartition
)

var levelNames = [...]string{"DEFAULT", "PER_BROKER", "PER_TOPIC_PER_BROKER", "PER_TOPIC_PER_PARTITION"}

// LevelNames lists the level names bulwark.metrics.level accepts.
func LevelNames() []string { return append([]string(nil), levelNames[:]...) }

func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel reads a level name (case-insensitive).
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return Default, fmt.Errorf("metrics: unknown level %q (want one of %s)", s, strings.Join(levelNames[:], ", "))
}
