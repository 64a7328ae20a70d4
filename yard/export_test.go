package yard

import "github.com/revloop/revloop/ingest"

type ingestRecord = ingest.Record
