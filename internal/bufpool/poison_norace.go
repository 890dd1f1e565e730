//go:build !race

package bufpool

// poison is off outside race-detector builds: filling megabytes on every Put would cost what the
// pool saves. See poison_race.go.
const poison = false
