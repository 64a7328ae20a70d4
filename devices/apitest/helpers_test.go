package apitest

import (
	"testing"

	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/store/storetest"
)

const header = "id,kind,attached_kind,attached_id,labels,firmware\n"

func testRegistry(t testing.TB) *devices.Registry {
	t.Helper()
	db := storetest.Migrated(t, storetest.SQLite)
	return devices.NewRegistry(db, nil, devices.Options{Argon2: devices.Argon2Params{MemoryKiB: 64, Time: 1}, MosquittoIterations: 10})
}

type fakePublisher struct{ topics []string }

func (p *fakePublisher) Publish(topic string, payload []byte, retain bool, qos byte) error {
	p.topics = append(p.topics, topic)
	return nil
}
