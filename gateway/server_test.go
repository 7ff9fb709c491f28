package gateway_test

import (
	"net"
	"strings"
	"testing"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
)

// TestAFailedStartFreesWhatItOpened: a gateway whose HTTP address is taken fails to start and
// leaves its gRPC port free, for the next attempt.
func TestAFailedStartFreesWhatItOpened(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr := free.Addr().String()
	free.Close()

	srv, err := gateway.Start(ctx, gateway.Config{GRPCAddr: grpcAddr, HTTPAddr: taken.Addr().String(), Live: fakeLive{}, Logger: kafkatest.Quiet()})
	if err == nil {
		t.Fatalf("started on a taken HTTP address (gRPC at %s)", srv.GRPCAddr())
	}
	if !strings.Contains(err.Error(), "listen for HTTP") {
		t.Fatalf("error %q, want one about the HTTP listener", err)
	}
	again, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		t.Fatalf("gRPC port still held after the failed start: %v", err)
	}
	again.Close()
}
