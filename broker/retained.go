package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

var retainedBucket = []byte("retained")

// retainedStore keeps the broker's retained messages in a bolt file of
// their own and writes them in batches. mochi's bolt hook commits one
// transaction per retained publication, and devices retain every status
// message: at tens of thousands of messages per second those commits cost
// more CPU than routing the messages. Here a publication only replaces
// the topic's pending entry; a flusher commits what is pending every
// interval, in one transaction. A crash loses at most the last interval of
// retained updates (devices retain their status again on their next one).
type retainedStore struct {
	mqtt.HookBase
	db       *bbolt.DB
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	pending map[string][]byte // topic -> encoded storage.Message; nil deletes
	stop    chan struct{}
	done    chan struct{}
}

func openRetainedStore(path string, opts *bbolt.Options, interval time.Duration, log *slog.Logger) (*retainedStore, error) {
	db, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, fmt.Errorf("broker: retained store: %w", err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(retainedBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("broker: retained store: %w", err)
	}
	s := &retainedStore{db: db, log: log, interval: interval, pending: map[string][]byte{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.flusher()
	return s, nil
}

func (s *retainedStore) ID() string { return "revloop-retained-store" }

func (s *retainedStore) Provides(b byte) bool {
	return b == mqtt.OnRetainMessage || b == mqtt.StoredRetainedMessages
}

// OnRetainMessage records a retained publication (r == -1: the topic's
// retained message was cleared).
func (s *retainedStore) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	var v []byte
	if r != -1 {
		props := pk.Properties.Copy(false)
		m := storage.Message{
			ID:          "retained_" + pk.TopicName,
			T:           storage.RetainedKey,
			FixedHeader: pk.FixedHeader,
			TopicName:   pk.TopicName,
			Payload:     pk.Payload,
			Created:     pk.Created,
			Client:      cl.ID,
			Origin:      pk.Origin,
			Properties: storage.MessageProperties{
				PayloadFormat:          props.PayloadFormat,
				MessageExpiryInterval:  props.MessageExpiryInterval,
				ContentType:            props.ContentType,
				ResponseTopic:          props.ResponseTopic,
				CorrelationData:        props.CorrelationData,
				SubscriptionIdentifier: props.SubscriptionIdentifier,
				TopicAlias:             props.TopicAlias,
				User:                   props.User,
			},
		}
		var err error
		if v, err = m.MarshalBinary(); err != nil {
			s.log.Error("broker: encoding retained message", "topic", pk.TopicName, "err", err)
			return
		}
	}
	s.mu.Lock()
	s.pending[pk.TopicName] = v
	s.mu.Unlock()
}

// StoredRetainedMessages returns the retained messages kept on disk.
func (s *retainedStore) StoredRetainedMessages() ([]storage.Message, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	var out []storage.Message
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(retainedBucket).ForEach(func(_, v []byte) error {
			var m storage.Message
			if err := m.UnmarshalBinary(bytes.Clone(v)); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("broker: retained store: %w", err)
	}
	return out, nil
}

func (s *retainedStore) flusher() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.flush(); err != nil {
				s.log.Error("broker: writing retained messages", "err", err)
			}
		case <-s.stop:
			return
		}
	}
}

// flush commits the pending updates in one transaction; on error they stay
// pending (unless a newer update replaced them meanwhile).
func (s *retainedStore) flush() error {
	s.mu.Lock()
	batch := s.pending
	if len(batch) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.pending = make(map[string][]byte, len(batch))
	s.mu.Unlock()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(retainedBucket)
		for topic, v := range batch {
			var err error
			if v == nil {
				err = b.Delete([]byte(topic))
			} else {
				err = b.Put([]byte(topic), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		for topic, v := range batch {
			if _, newer := s.pending[topic]; !newer {
				s.pending[topic] = v
			}
		}
		s.mu.Unlock()
	}
	return err
}

// Stop writes what is pending and closes the file.
func (s *retainedStore) Stop() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	err := s.flush()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}
