package topology

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// Foreign-key joins (Kafka Streams' KTable.join(other, foreignKeyExtractor, joiner),
// KIP-213). The left table (key K) and the right table (key KO) are partitioned by
// different keys, so a left row and the right row it refers to live in different tasks,
// usually of different sub-topologies:
//
//   - left side, on each update of a left row: an unsubscription goes to the old foreign
//     key (when it had one and it changed) and a subscription — the left key, a hash of the
//     new left value — to the new one, through the subscription topic, keyed and
//     partitioned by the foreign key. A row deleted, or without a foreign key, is answered
//     at once, in the same task (no subscription to wait for).
//   - right side: a subscription store keyed (foreign key, left key) holds each left row's
//     hash; a subscription looks the right row up and responds with it (or with "none"),
//     and every update of a right row responds to each of its subscribers (a prefix scan
//     by foreign key), through the response topic, keyed and partitioned by the left key.
//   - left side again: a response whose hash is not the hash of the left row's value now
//     is stale (the row changed since, maybe to another foreign key) and is dropped;
//     otherwise the result — join(key, left value, right value), or for an inner join
//     without a right row a deletion — goes into the result store and downstream.
//
// Every subscription gets a response, also when the right row is missing: Kafka Streams
// answers a left row's first subscription only if the right row exists, and so can keep a
// stale result when a row goes away and comes back with the same value while an older
// response is still on its way (the hash of the new row is the hash of the old one); the
// response to the last subscription, which is ordered after it, puts it right here.

// JoinForeignKey joins two tables by a foreign key, as Kafka Streams' KTable.join(other,
// foreignKeyExtractor, joiner) (KIP-213, with KIP-775's key-and-value extractor): each row
// of left whose fk(key, value) names a row of right gives join(key, value, that row's
// value), and the result is a table keyed as left, materialized in a key-value store named
// store (with a changelog), whose values are encoded with rs. A left row whose foreign key
// names no right row, or that has none (fk returns false: Kafka Streams' null foreign
// key), is not in the result. An update of either side updates the result: a left row that
// changes its foreign key follows the new one only — no result computed from a foreign key
// the row no longer has is emitted, however the two sides' records interleave — and a
// result that no longer holds (a deleted row on either side, a foreign key that now names
// nothing) is deleted from the result, as a deletion in Changes (a key the result does not
// hold gets no deletion). A result's time is that of the update that caused it.
//
// The two tables need not be co-partitioned: the join runs through two internal topics,
// "<application id>-<name>-subscription-registration-topic" (keyed by the foreign key,
// with the right table's partition count) and "…-subscription-response-topic" (keyed by
// the left key, with the left table's), and a store of the subscriptions,
// "<name>-subscription-store", on the right table's side. left and right may be tables
// from topics, aggregations' results or tables derived from them (Filter,
// MapTableValues), even one table on both sides.
//
// The internal topics and the hash need the tables' serdes: the left table's key and value
// serdes, the right table's key and value serdes. Tables from TableFrom and aggregations
// know theirs, Filter keeps them; a table derived with MapTableValues has a new value type,
// so declare its serdes with WithSerdes. The right table's key serde must encode the
// foreign keys as its topic is partitioned, and the left key serde as the left's is (Kafka's
// default partitioner over those bytes, as every eddy join assumes); the left value serde
// must encode equal values to equal bytes (the hash is of that encoding); fk must be a
// function of its arguments.
//
// Options: Named (the join's name; it names the internal topics and the subscription
// store, so name a join whose state must survive changes to the rest of the topology).
func JoinForeignKey[K, V, KO, VO, VR any](left Table[K, V], right Table[KO, VO], fk func(key K, value V) (KO, bool),
	join func(key K, value V, foreign VO) VR, rs serde.Serde[VR], store string, opts ...Option) Table[K, VR] {
	if join == nil {
		return joinForeignKey(left, right, fk, nil, rs, store, opJoinForeignKey, opts)
	}
	return joinForeignKey(left, right, fk, func(k K, v V, vo VO, found bool) (VR, bool) {
		if !found {
			var zero VR
			return zero, false
		}
		return join(k, v, vo), true
	}, rs, store, opJoinForeignKey, opts)
}

// LeftJoinForeignKey is JoinForeignKey as a left join, as Kafka Streams' KTable.leftJoin
// with a foreign-key extractor: every row of left is in the result, with join(key, value,
// right value, true) when its foreign key names a row of right, and join(key, value, zero
// value, false) when it names none or it has none (fk returns false). A result is deleted
// only when its left row is.
func LeftJoinForeignKey[K, V, KO, VO, VR any](left Table[K, V], right Table[KO, VO], fk func(key K, value V) (KO, bool),
	join func(key K, value V, foreign VO, found bool) VR, rs serde.Serde[VR], store string, opts ...Option) Table[K, VR] {
	if join == nil {
		return joinForeignKey(left, right, fk, nil, rs, store, opLeftJoinForeignKey, opts)
	}
	return joinForeignKey(left, right, fk, func(k K, v V, vo VO, found bool) (VR, bool) {
		return join(k, v, vo, found), true
	}, rs, store, opLeftJoinForeignKey, opts)
}

// fkJoin is what the operators of one foreign-key join share.
type fkJoin[K, V, KO, VO, VR any] struct {
	name  string // the join's base name; its nodes, topics and store are named after it
	left  Table[K, V]
	right Table[KO, VO]
	fk    func(K, V) (KO, bool)
	join  func(K, V, VO, bool) (VR, bool) // false: no result (an inner join without a right row)
	subs  string                          // the subscription store
	// The internal topics, for binding the serdes whose bytes travel in them to their
	// names (serde.TopicSerde): the foreign key is the subscription topic's key, the left
	// key the response topic's.
	subTopic, respTopic *graph.Repartition
}

// serdes binds the join's serdes for one task (serde.TopicSerde): the left key to the
// response topic, whose key it becomes; the foreign key, as the subscription topic's key
// and in the subscription store's keys; the left values, hashed, to the left table's
// store changelog.
func (j *fkJoin[K, V, KO, VO, VR]) serdes(env graph.Env) (leftKeys serde.Serde[K], fks, subKeys serde.Serde[KO], hash *valueHash[V]) {
	app := env.ApplicationID()
	return serde.ForTopic(j.left.ks, j.respTopic.Topic(app), true),
		serde.ForTopic(j.right.ks, j.subTopic.Topic(app), true),
		storeSerde(env, j.subs, j.right.ks, true),
		newValueHash(storeSerde(env, j.left.root, j.left.vs, false))
}

func joinForeignKey[K, V, KO, VO, VR any](left Table[K, V], right Table[KO, VO], fk func(K, V) (KO, bool),
	join func(K, V, VO, bool) (VR, bool), rs serde.Serde[VR], store string, op operator, opts []Option) Table[K, VR] {
	t := left.s.t
	c := t.configure(op, opts)
	broken := Table[K, VR]{s: Stream[K, Change[VR]]{t: t, node: left.s.node, out: &outlets[K, Change[VR]]{}}, old: new(bool)}
	if right.s.t != t {
		t.g.Errorf("%s: the two tables belong to different topologies", op.label(c))
		return broken
	}
	var missing []string
	for _, m := range []struct {
		absent bool
		what   string
	}{
		{fk == nil, "the foreign-key extractor"},
		{join == nil, "the joiner"},
		{rs == nil, "the result value serde"},
		{left.ks == nil, "the left table's key serde"},
		{left.vs == nil, "the left table's value serde"},
		{right.ks == nil, "the right table's key serde"},
		{right.vs == nil, "the right table's value serde"},
	} {
		if m.absent {
			missing = append(missing, m.what)
		}
	}
	if len(missing) > 0 {
		hint := ""
		if left.ks == nil || left.vs == nil || right.ks == nil || right.vs == nil {
			hint = "; a table derived with MapTableValues does not know its serdes: declare them with Table.WithSerdes"
		}
		t.g.Errorf("%s: %s not given%s", op.label(c), joinList(missing), hint)
		return broken
	}
	j := &fkJoin[K, V, KO, VO, VR]{name: t.nameFor(c, "KTABLE-FK-JOIN"), left: left, right: right, fk: fk, join: join}
	j.subs = j.name + "-subscription-store"
	*left.old = true // a left update must say which foreign key it leaves

	// Left side: subscriptions to the right side's tasks.
	registered := processorNode(left.s, j.name+"-subscription-registration", j.register)
	topic := &graph.Repartition{Name: j.name + "-subscription-registration-topic"}
	j.subTopic = topic
	received := throughTopic(registered, topic, j.name+"-subscription-registration",
		right.ks, subscriptionSerde{}, right.ks, subscriptionSerde{})
	// The internal topics carry table updates, which are state, not a timeline: they do
	// not hold a task's watermark back. (They could not: the two sides feed each other, so
	// each would wait for the other's watermark forever.)
	received.node.TableSource = true

	// Right side: the subscription store, answered on subscriptions and right updates.
	t.g.AddStore(j.subs).Kind = graph.InternalStore
	answered := processorNode(received, j.name+"-subscription-receive", j.receive)
	t.g.Connect(answered.node, j.subs)
	t.g.Connect(answered.node, right.root) // it reads the right table: in the right table's tasks
	updated := processorNode(right.s, j.name+"-foreign-table-join", j.foreignUpdate)
	t.g.Connect(updated.node, j.subs)
	responses := answered.MergeNamed(j.name+"-subscription-response-merge", updated)
	rt := &graph.Repartition{Name: j.name + "-subscription-response-topic"}
	j.respTopic = rt
	rsp := responseSerde[VO]{vos: right.vs}
	back := throughTopic(responses, rt, j.name+"-subscription-response", rawKey{}, rsp, left.ks, rsp)
	back.node.TableSource = true

	// Left side again: responses, and the rows that need no subscription, become results.
	local := processorNode(left.s, j.name+"-no-foreign-key", j.unsubscribed)
	results := NewKeyValueStore(t, store, left.ks, rs)
	needOld := new(bool)
	n := &graph.Node{Name: j.name + "-response-join", Kind: graph.Processor}
	out := attach([]Stream[K, fkResponse[VO]]{back, local}, n, func(tb *graph.TaskBuild, out *outlets[K, Change[VR]]) (next[K, fkResponse[VO]], error) {
		return j.resolve(tb, out, results, *needOld)
	})
	t.g.Connect(n, left.root)
	t.g.Connect(n, store)
	return Table[K, VR]{s: out, store: results, view: storeView(results), root: store, old: needOld, ks: left.ks, vs: rs}
}

// joinList joins names as a sentence: "a", "a and b", "a, b and c".
func joinList(names []string) string {
	switch len(names) {
	case 1:
		return names[0]
	case 2:
		return names[0] + " and " + names[1]
	}
	s := names[0]
	for _, n := range names[1 : len(names)-1] {
		s += ", " + n
	}
	return s + " and " + names[len(names)-1]
}

// register compiles the left side's sender of subscriptions: on each update of a left row,
// an unsubscription from the foreign key it leaves, and a subscription to the one it has.
func (j *fkJoin[K, V, KO, VO, VR]) register(tb *graph.TaskBuild, out *outlets[KO, fkSubscription]) (next[K, Change[V]], error) {
	n, err := out.compile(tb)
	if err != nil {
		return nil, err
	}
	leftKeys, fks, _, h := j.serdes(tb.Env)
	var kbuf, oldFK, newFK []byte
	return func(r processor.Record[K, Change[V]]) error {
		var err error
		c := r.Value
		var ko, oldKO KO
		has, hadOld := false, false
		if !c.Deleted {
			ko, has = j.fk(r.Key, c.Value)
		}
		if c.HadOld {
			oldKO, hadOld = j.fk(r.Key, c.Old)
		}
		if !has && !hadOld {
			return nil // nothing to subscribe to, nothing to leave: answered locally
		}
		if kbuf, err = leftKeys.AppendEncode(kbuf[:0], r.Key); err != nil {
			return j.encodeError("left key", err)
		}
		if has {
			if newFK, err = fks.AppendEncode(newFK[:0], ko); err != nil {
				return j.encodeError("foreign key", err)
			}
		}
		if hadOld {
			if oldFK, err = fks.AppendEncode(oldFK[:0], oldKO); err != nil {
				return j.encodeError("foreign key", err)
			}
			if !has || !bytes.Equal(oldFK, newFK) {
				// The sink encodes the record before n returns: kbuf is not kept.
				leave := processor.WithKeyValue(r, oldKO, fkSubscription{unsubscribe: true, key: kbuf})
				if err := n(leave); err != nil {
					return err
				}
			}
		}
		if !has {
			return nil
		}
		sum, err := h.of(c.Value)
		if err != nil {
			return j.encodeError("left value", err)
		}
		return n(processor.WithKeyValue(r, ko, fkSubscription{hash: sum, key: kbuf}))
	}, nil
}

// unsubscribed compiles the left side's answer to the rows that subscribe to nothing: a
// deleted row, and one without a foreign key. Their response is known at once — no right
// row — and goes to the response join in the same task, which sees the row as it is now.
func (j *fkJoin[K, V, KO, VO, VR]) unsubscribed(tb *graph.TaskBuild, out *outlets[K, fkResponse[VO]]) (next[K, Change[V]], error) {
	n, err := out.compile(tb)
	if err != nil {
		return nil, err
	}
	_, _, _, h := j.serdes(tb.Env)
	return func(r processor.Record[K, Change[V]]) error {
		if r.Value.Deleted {
			return n(processor.WithValue(r, fkResponse[VO]{}))
		}
		if _, has := j.fk(r.Key, r.Value.Value); has {
			return nil // subscribed: the right side answers
		}
		sum, err := h.of(r.Value.Value)
		if err != nil {
			return j.encodeError("left value", err)
		}
		return n(processor.WithValue(r, fkResponse[VO]{hash: sum, hasHash: true}))
	}, nil
}

// receive compiles the right side's handling of a subscription: it records (or, for an
// unsubscription, forgets) the left row's hash under (foreign key, left key) and answers
// with the right row as it is now.
func (j *fkJoin[K, V, KO, VO, VR]) receive(tb *graph.TaskBuild, out *outlets[[]byte, fkResponse[VO]]) (next[KO, fkSubscription], error) {
	n, err := out.compile(tb)
	if err != nil {
		return nil, err
	}
	subs, err := tb.Env.Store(j.subs)
	if err != nil {
		return nil, err
	}
	right, err := j.right.view(tb.Env)
	if err != nil {
		return nil, err
	}
	_, _, subKeys, _ := j.serdes(tb.Env)
	var key []byte
	return func(r processor.Record[KO, fkSubscription]) error {
		var err error
		if key, err = subscriptionKey(key[:0], subKeys, r.Key); err != nil {
			return j.encodeError("foreign key", err)
		}
		key = append(key, r.Value.key...)
		if r.Value.unsubscribe {
			subs.Delete(key)
			return nil
		}
		subs.Put(key, r.Value.hash[:])
		vo, found, err := right.get(r.Key)
		if err != nil {
			return err
		}
		return n(processor.WithKeyValue(r, r.Value.key, fkResponse[VO]{hash: r.Value.hash, hasHash: true, found: found, value: vo}))
	}, nil
}

// foreignUpdate compiles the right side's handling of an update of a right row: every
// left row subscribed to its key gets the new value (or "none", for a deletion).
func (j *fkJoin[K, V, KO, VO, VR]) foreignUpdate(tb *graph.TaskBuild, out *outlets[[]byte, fkResponse[VO]]) (next[KO, Change[VO]], error) {
	n, err := out.compile(tb)
	if err != nil {
		return nil, err
	}
	subs, err := tb.Env.Store(j.subs)
	if err != nil {
		return nil, err
	}
	_, _, subKeys, _ := j.serdes(tb.Env)
	var prefix []byte
	return func(r processor.Record[KO, Change[VO]]) error {
		var err error
		if prefix, err = subscriptionKey(prefix[:0], subKeys, r.Key); err != nil {
			return j.encodeError("foreign key", err)
		}
		return scanSubscribers(subs, prefix, j.subs, func(leftKey []byte, sum [16]byte) error {
			// The sink encodes the key before n returns: the iterator's bytes are not kept.
			resp := fkResponse[VO]{hash: sum, hasHash: true, found: !r.Value.Deleted, value: r.Value.Value}
			return n(processor.WithKeyValue(r, leftKey, resp))
		})
	}, nil
}

// scanSubscribers calls fn with the left key and hash of every subscription under prefix
// (a foreign key's subscriptionKey).
func scanSubscribers(subs store.Bytes, prefix []byte, name string, fn func(leftKey []byte, sum [16]byte) error) error {
	it, err := subs.Range(prefix, prefixAfter(prefix))
	if err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	for it.Next() {
		var sum [16]byte
		if len(it.Value()) != len(sum) {
			it.Close()
			return fmt.Errorf("store %s: a subscription of %d bytes, want %d (not a foreign-key join's store?)", name, len(it.Value()), len(sum))
		}
		copy(sum[:], it.Value())
		if err := fn(it.Key()[len(prefix):], sum); err != nil {
			it.Close()
			return err
		}
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	return nil
}

// resolve compiles the left side's response join: a response that answers the left row's
// current value (same hash; for a deleted row, a response without one) becomes the result,
// written to the result store and forwarded as a change; any other is stale and dropped.
func (j *fkJoin[K, V, KO, VO, VR]) resolve(tb *graph.TaskBuild, out *outlets[K, Change[VR]], results *KeyValueStore[K, VR],
	sendOld bool) (next[K, fkResponse[VO]], error) {
	n, err := out.compile(tb)
	if err != nil {
		return nil, err
	}
	left, err := j.left.view(tb.Env)
	if err != nil {
		return nil, err
	}
	kv, err := results.Open(tb.Env)
	if err != nil {
		return nil, err
	}
	_, _, _, h := j.serdes(tb.Env)
	return func(r processor.Record[K, fkResponse[VO]]) error {
		resp := r.Value
		v, ok, err := left.get(r.Key)
		if err != nil {
			return err
		}
		if ok != resp.hasHash {
			return nil // the row was deleted since, or exists again since its deletion
		}
		if ok {
			sum, err := h.of(v)
			if err != nil {
				return j.encodeError("left value", err)
			}
			if sum != resp.hash {
				return nil // an answer to a value the row no longer has
			}
		}
		var res VR
		keep := false
		if ok {
			res, keep = j.join(r.Key, v, resp.value, resp.found)
		}
		old, had, err := kv.Get(r.Key)
		if err != nil {
			return fmt.Errorf("store %s: %w", results.name, err)
		}
		var c Change[VR]
		if sendOld {
			c.Old, c.HadOld = old, had
		}
		if keep {
			err = kv.Put(r.Key, res)
			c.Value = res
		} else {
			if !had {
				return nil // no result, and none to delete
			}
			err = kv.Delete(r.Key)
			c.Deleted = true
		}
		if err != nil {
			return fmt.Errorf("store %s: %w", results.name, err)
		}
		return n(processor.WithValue(r, c))
	}, nil
}

// encodeError is a serde's failure to encode what the join writes or hashes: a production
// error of the join, which the application's OnProductionError policy handles.
func (j *fkJoin[K, V, KO, VO, VR]) encodeError(what string, err error) error {
	return serdeFailure(graph.Production, j.name, fmt.Errorf("encode the %s: %w", what, err))
}

// subscriptionKey appends a foreign key's prefix in the subscription store: its encoding's
// length (4 bytes, big-endian), then the encoding; the left key follows it. The length
// keeps one foreign key's subscriptions apart from those of another that starts with the
// same bytes.
func subscriptionKey[KO any](dst []byte, ks serde.Serde[KO], ko KO) ([]byte, error) {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst, err := ks.AppendEncode(dst, ko)
	if err != nil {
		return dst, err
	}
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst, nil
}

// prefixAfter is the first key after every key that starts with p (nil: none, when p is
// all 0xff).
func prefixAfter(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i]++; end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// valueHash hashes the left table's values as their serde encodes them (128-bit FNV-1a,
// as Kafka Streams hashes them with 128-bit Murmur3): a response carries the hash of the
// value it answers, and one for a value the row no longer has is stale. Reused per task.
type valueHash[V any] struct {
	vs  serde.Serde[V]
	buf []byte
	h   hash.Hash
}

func newValueHash[V any](vs serde.Serde[V]) *valueHash[V] {
	return &valueHash[V]{vs: vs, h: fnv.New128a()}
}

func (x *valueHash[V]) of(v V) (sum [16]byte, err error) {
	if x.buf, err = x.vs.AppendEncode(x.buf[:0], v); err != nil {
		return sum, err
	}
	x.h.Reset()
	x.h.Write(x.buf)
	x.h.Sum(sum[:0])
	return sum, nil
}

// fkSubscription is a record of the subscription topic (keyed by the foreign key): a left
// row, by its encoded key, subscribes to the foreign key with the hash of its value, or
// unsubscribes from it.
type fkSubscription struct {
	unsubscribe bool
	hash        [16]byte
	key         []byte
}

// fkResponse is a record of the response topic (keyed by the left key): the answer to the
// left row's value with hash (none, hasHash false, for a deleted row), with the right
// row's value when found.
type fkResponse[VO any] struct {
	hash    [16]byte
	hasHash bool
	found   bool
	value   VO
}

// fkWireVersion is the first byte of every subscription and response: a reader refuses
// another, rather than misread the records of a newer eddy in a rolling upgrade.
const fkWireVersion = 0

// errFKWire is wrapped by the decoding errors of subscriptions and responses.
var errFKWire = errors.New("not a foreign-key join record")

// subscriptionSerde encodes a subscription as: version, instruction (0 subscribe, 1
// unsubscribe), the 16-byte hash (subscriptions only), then the left key's bytes.
type subscriptionSerde struct{}

const (
	fkSubscribe   = 0
	fkUnsubscribe = 1
)

func (subscriptionSerde) AppendEncode(dst []byte, s fkSubscription) ([]byte, error) {
	if s.unsubscribe {
		dst = append(dst, fkWireVersion, fkUnsubscribe)
	} else {
		dst = append(append(dst, fkWireVersion, fkSubscribe), s.hash[:]...)
	}
	return append(dst, s.key...), nil
}

func (subscriptionSerde) Decode(b []byte) (s fkSubscription, err error) {
	if len(b) < 2 || b[0] != fkWireVersion || b[1] > fkUnsubscribe {
		return s, fmt.Errorf("%w: a subscription starts with version %d and instruction 0 or 1 (got % x)", errFKWire, fkWireVersion, b[:min(len(b), 2)])
	}
	s.unsubscribe, b = b[1] == fkUnsubscribe, b[2:]
	if !s.unsubscribe {
		if len(b) < len(s.hash) {
			return s, fmt.Errorf("%w: a subscription of %d bytes has no room for its hash", errFKWire, len(b)+2)
		}
		copy(s.hash[:], b)
		b = b[len(s.hash):]
	}
	s.key = append([]byte{}, b...) // never nil: an empty key is written as zero bytes, not null
	return s, nil
}

// responseSerde encodes a response as: version, flags (1: has a hash, 2: found), the hash
// when there is one, then the right value encoded with vos when found.
type responseSerde[VO any] struct{ vos serde.Serde[VO] }

const (
	fkHasHash = 1 << 0
	fkFound   = 1 << 1
)

// ForTopic binds the right value's serde, when it depends on its topic, to topic.
func (s responseSerde[VO]) ForTopic(topic string, key bool) serde.Serde[fkResponse[VO]] {
	return responseSerde[VO]{vos: serde.ForTopic(s.vos, topic, key)}
}

func (s responseSerde[VO]) AppendEncode(dst []byte, r fkResponse[VO]) ([]byte, error) {
	var flags byte
	if r.hasHash {
		flags |= fkHasHash
	}
	if r.found {
		flags |= fkFound
	}
	dst = append(dst, fkWireVersion, flags)
	if r.hasHash {
		dst = append(dst, r.hash[:]...)
	}
	if !r.found {
		return dst, nil
	}
	return s.vos.AppendEncode(dst, r.value)
}

func (s responseSerde[VO]) Decode(b []byte) (r fkResponse[VO], err error) {
	if len(b) < 2 || b[0] != fkWireVersion || b[1]&^(fkHasHash|fkFound) != 0 {
		return r, fmt.Errorf("%w: a response starts with version %d and flags below 4 (got % x)", errFKWire, fkWireVersion, b[:min(len(b), 2)])
	}
	r.hasHash, r.found, b = b[1]&fkHasHash != 0, b[1]&fkFound != 0, b[2:]
	if r.hasHash {
		if len(b) < len(r.hash) {
			return r, fmt.Errorf("%w: a response of %d bytes has no room for its hash", errFKWire, len(b)+2)
		}
		copy(r.hash[:], b)
		b = b[len(r.hash):]
	}
	if !r.found {
		if len(b) > 0 {
			return r, fmt.Errorf("%w: a response without a right value has %d more bytes", errFKWire, len(b))
		}
		return r, nil
	}
	if r.value, err = s.vos.Decode(b); err != nil {
		return r, fmt.Errorf("decode the right value: %w", err)
	}
	return r, nil
}

// rawKey writes bytes already encoded as they are (the left keys a subscription carries);
// never null, so an empty key stays an empty key on its way to its partition.
type rawKey struct{}

func (rawKey) AppendEncode(dst []byte, b []byte) ([]byte, error) { return append(dst, b...), nil }
func (rawKey) Decode(b []byte) ([]byte, error)                   { return append([]byte{}, b...), nil }
