package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func startGateway(t *testing.T, cfg gateway.Config) *gateway.Server {
	t.Helper()
	cfg.DatabaseURL = pgtest.Database(t)
	return startGatewayWithoutHistory(t, cfg)
}

// startGatewayWithoutHistory starts a gateway on an embedded broker and no database (unless
// cfg has one).
func startGatewayWithoutHistory(t *testing.T, cfg gateway.Config) *gateway.Server {
	t.Helper()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Brokers = []string{kafkatest.StartBroker(t)}
	if cfg.Logger == nil {
		cfg.Logger = kafkatest.Quiet()
	}
	gwCtx, stop := context.WithCancel(ctx)
	srv, err := gateway.Start(gwCtx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		if err := srv.Wait(); err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	return srv
}

// TestBearerToken: with --auth-token every RPC but health checks needs the token, over gRPC and
// REST.
func TestBearerToken(t *testing.T) {
	srv := startGateway(t, gateway.Config{AuthToken: "s3cret"})
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewTelemetraServiceClient(conn)
	req := &pb.GetChannelRequest{Name: "channels/demo_stream"}
	for _, tc := range []struct {
		name string
		md   []string
		want codes.Code
	}{
		{"no token", nil, codes.Unauthenticated},
		{"wrong token", []string{"authorization", "Bearer nope"}, codes.Unauthenticated},
		{"right token", []string{"authorization", "Bearer s3cret"}, codes.Unavailable}, // past auth: the view is empty or loading
	} {
		callCtx := metadata.AppendToOutgoingContext(ctx, tc.md...)
		_, err := client.GetChannel(callCtx, req)
		if got := status.Code(err); got != tc.want && !(tc.want == codes.Unavailable && got == codes.NotFound) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check without a token: %v", err)
	}
	for _, tc := range []struct {
		header string
		want   string
	}{
		{"", "HTTP 401"},
		{"Authorization: Bearer s3cret", "HTTP 40"}, // 404 or 503: past auth
	} {
		args := []string{"-s", "-o", "/dev/null", "-w", "HTTP %{http_code}", "http://" + srv.HTTPAddr() + "/v1/channels/demo_stream"}
		if tc.header != "" {
			args = append(args, "-H", tc.header)
		}
		out, _ := runTool(t, "curl", args...)
		if tc.header == "" && out != tc.want || tc.header != "" && (out == "HTTP 401" || !strings.HasPrefix(out, "HTTP ")) {
			t.Errorf("curl with %q: %s", tc.header, out)
		}
	}
}

// TestTLS: --tls-cert/--tls-key serve gRPC and REST over TLS.
func TestTLS(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	srv := startGateway(t, gateway.Config{TLSCert: certFile, TLSKey: keyFile})
	pemBytes, _ := os.ReadFile(certFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health check over TLS: %v", err)
	}
	out, err := runTool(t, "curl", "-sS", "--cacert", certFile, "https://"+srv.HTTPAddr()+"/openapi.json")
	if err != nil || !strings.Contains(out, `"swagger"`) {
		t.Fatalf("curl over TLS: %v\n%.300s", err, out)
	}
	// REST goes through the loopback gRPC connection, over TLS too
	testkit.WaitFor(t, "REST over TLS to answer 200", 20*time.Second, func() error {
		if out, _ := runTool(t, "curl", "-sS", "-w", " HTTP %{http_code}", "--cacert", certFile, "https://"+srv.HTTPAddr()+"/v1/channels"); !strings.HasSuffix(out, "HTTP 200") {
			return errors.New(out)
		}
		return nil
	})
	if out, err := runTool(t, "curl", "-sS", "http://"+srv.HTTPAddr()+"/openapi.json"); err == nil && strings.Contains(out, `"swagger"`) {
		t.Fatal("plain HTTP served while TLS is on")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "telemetra test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
