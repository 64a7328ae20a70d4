package store

import "time"

// nowMillis is the store's clock for bookkeeping columns.
var nowMillis = func() int64 { return time.Now().UnixMilli() }
