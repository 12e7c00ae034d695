package state

// valueCache keeps committed values of a task's store that were read or written lately,
// so that the first read of a key after a commit does not go to the database (the buffer
// holds only what changed since the commit). A key known to be absent is cached too. It is
// bounded by bytes; when full, entries go in the map's (random) iteration order until a
// quarter of the room is free. Owned by the task's goroutine.
type valueCache struct {
	m     map[string]cached
	bytes int
	max   int
}

type cached struct {
	value  []byte
	absent bool
}

// entryOverhead approximates what a cached entry costs beyond its key and value.
const entryOverhead = 64

// DefaultCacheBytes is the committed-value cache of one task's slice of one store.
const DefaultCacheBytes = 16 << 20

func newValueCache(max int) *valueCache {
	if max <= 0 {
		return nil
	}
	return &valueCache{m: map[string]cached{}, max: max}
}

func (c *valueCache) get(key []byte) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	e, ok := c.m[string(key)]
	return e, ok
}

// lookup is get by a string key.
func (c *valueCache) lookup(key string) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	e, ok := c.m[key]
	return e, ok
}

// put caches key's committed value; value is kept, not copied.
func (c *valueCache) put(key string, e cached) {
	if c == nil {
		return
	}
	size := len(key) + len(e.value) + entryOverhead
	if size > c.max/4 {
		c.drop(key)
		return
	}
	if old, ok := c.m[key]; ok {
		c.bytes -= len(key) + len(old.value) + entryOverhead
	}
	c.m[key] = e
	c.bytes += size
	if c.bytes > c.max {
		for k, old := range c.m {
			if c.bytes <= c.max*3/4 {
				break
			}
			delete(c.m, k)
			c.bytes -= len(k) + len(old.value) + entryOverhead
		}
	}
}

func (c *valueCache) drop(key string) {
	if old, ok := c.m[key]; ok {
		delete(c.m, key)
		c.bytes -= len(key) + len(old.value) + entryOverhead
	}
}

func (c *valueCache) clear() {
	if c == nil {
		return
	}
	clear(c.m)
	c.bytes = 0
}
