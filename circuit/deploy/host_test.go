package deploy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit/deploy"
)

// TestHostServe: a Host joins a run through a server's URL and hosts its
// node to the end; with no server it gives up after Wait, naming the wait;
// its error log is muted at the end of the run.
func TestHostServe(t *testing.T) {
	m, set := exampleModel()
	srv := startServer(t)
	var wlog syncLog
	errs := deploy.NewErrorLog(wlog.logger(), 5)
	h := deploy.Host{URL: srv.ClientURL(), Run: "hosted", Node: "w", Wait: time.Minute, Logger: wlog.logger(),
		Errors: errs, BusOptions: []bus.Option{bus.WithErrorHandler(errs.Report)}, Metrics: deploy.NewMetrics()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx) }()
	rep, err := deploy.Run(ctx, m, set, deploy.WithBus(connect(t, srv.ClientURL())), deploy.WithRunID("hosted"), deploy.WithPlacement(twoNodes))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v\n%s", err, wlog.String())
	}
	if rep.Runtime.PerNode["w"].Msgs == 0 {
		t.Errorf("node w sent nothing")
	}

	for _, tc := range []struct {
		name string
		h    deploy.Host
		want string
	}{
		{"no server", deploy.Host{URL: "nats://127.0.0.1:1", Run: "r", Node: "w", Wait: 300 * time.Millisecond}, "gave up waiting"},
		{"no coordinator", deploy.Host{URL: srv.ClientURL(), Run: "nobody", Node: "w", Wait: 300 * time.Millisecond}, "nobody"},
	} {
		err := tc.h.Serve(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Serve: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
