package main

import "context"

func init() {
	register(&command{name: "ingest", summary: "run the ingest pipeline against an MQTT broker (replicas: --share-group)", run: runIngest})
}

func runIngest(ctx context.Context, e *env, args []string) error {
	return runApp(ctx, e, args, roleIngest)
}
