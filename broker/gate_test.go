package broker

import (
	"errors"
	"testing"
)

// TestAdmissionGateRefusesBeforeRunning: a gate that refuses CreateTopics closes the
// connection without creating the topic; other requests go on.
func TestAdmissionGateRefusesBeforeRunning(t *testing.T) {
	b := newTestBroker(t, withOptions(WithAdmissionGate(func(key int16) error {
		if key == 19 {
			return errors.New("audit trail down")
		}
		return nil
	})))
	adm := b.Admin(t)
	ctx := testContext(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "refused"); err == nil {
		t.Fatal("CreateTopics passed the gate")
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatalf("metadata after the refusal: %v", err)
	}
	if _, ok := md.Topics["refused"]; ok {
		t.Error("the refused topic exists")
	}
}
