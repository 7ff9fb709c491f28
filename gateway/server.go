// Package gateway serves Telemetra's API: gRPC (with reflection and the standard health
// service) and the same methods as REST/JSON through grpc-gateway, including the subscription
// as newline-delimited JSON and as Server-Sent Events. Live reads come from a goka View of the
// processor's table, history from the PostgreSQL projection, and subscriptions from one Kafka
// consumer fanned out by a hub with an explicit slow-consumer policy.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/telemetra/telemetra/gateway/dashboard"
	"github.com/telemetra/telemetra/gateway/hub"
	"github.com/telemetra/telemetra/gateway/openapi"
	"github.com/telemetra/telemetra/gateway/pipelinehealth"
	"github.com/telemetra/telemetra/gateway/store"
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/migrations"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Config configures a gateway.
type Config struct {
	// GRPCAddr and HTTPAddr are the listen addresses (":0" picks a free port).
	GRPCAddr, HTTPAddr string
	Brokers            []string
	// Generation is the processor generation whose table and outputs are served.
	Generation int
	// DatabaseURL is the history database; empty turns history off (live reads and
	// subscriptions only; history calls answer UNIMPLEMENTED).
	DatabaseURL string
	Schema      string
	// AlertsSchema holds the alerting state (migrations/alerts; default
	// migrations.DefaultAlertsSchema): alert subscriptions and their deliveries.
	AlertsSchema string
	// AuthToken, if set, is the bearer token every RPC but health checks must carry.
	AuthToken string
	// TLSCert and TLSKey, if set, serve gRPC and HTTP over TLS.
	TLSCert, TLSKey string
	// RequestTimeout bounds every unary RPC.
	RequestTimeout time.Duration
	// SubscriberBuffer is the events pending per subscriber before it is dropped as too slow.
	SubscriberBuffer int
	MaxSubscribers   int
	Heartbeat        time.Duration
	ClientID         string
	Now              func() time.Time
	Logger           *slog.Logger
	Registry         prometheus.Registerer
	// Live replaces the goka View (tests).
	Live LiveStates
	// StartupTimeout bounds the retries of a Kafka cluster that is still starting (zero:
	// kafka.DefaultStartupTimeout; negative: fail at the first error).
	StartupTimeout time.Duration
	// SubscriptionMaxAge ends a subscription this old with UNAVAILABLE, so that clients
	// resubscribe and spread over the gateways (0: never).
	SubscriptionMaxAge time.Duration
	// Limits holds the HTTP and gRPC server limits and timeouts.
	Limits Limits
	// HealthThresholds judge GetPipelineHealth's figures (nil: pipelinehealth.DefaultThresholds).
	HealthThresholds *pipelinehealth.Thresholds
	// HealthInterval is the time between two samples of the pipeline's figures (zero: 2 s).
	HealthInterval time.Duration
	// RankingInterval is how often a live ranking may be rebuilt and a ranking subscription
	// compares its top (zero: DefaultRankingInterval).
	RankingInterval time.Duration
}

// Limits are the servers' protections against slow, idle and oversized clients. Zero fields
// take the defaults of DefaultLimits.
type Limits struct {
	// HTTPReadHeaderTimeout bounds reading a request's headers.
	HTTPReadHeaderTimeout time.Duration
	// HTTPIdleTimeout closes a keep-alive connection idle this long.
	HTTPIdleTimeout time.Duration
	// HTTPWriteTimeout bounds writing an answer; streams (NDJSON, SSE) are exempt.
	HTTPWriteTimeout time.Duration
	// HTTPMaxHeaderBytes bounds the request line and headers (beyond it: 431).
	HTTPMaxHeaderBytes int
	// GRPCMaxConcurrentStreams bounds the concurrent RPCs of one gRPC connection.
	GRPCMaxConcurrentStreams uint32
	// GRPCKeepaliveMinTime is the shortest keepalive ping interval a client may use; a client
	// pinging more often is disconnected (ENHANCE_YOUR_CALM).
	GRPCKeepaliveMinTime time.Duration
	// GRPCMaxConnectionIdle closes a gRPC connection without RPCs for this long (GOAWAY).
	GRPCMaxConnectionIdle time.Duration
	// GRPCMaxRecvBytes bounds a received gRPC message (beyond it: RESOURCE_EXHAUSTED).
	GRPCMaxRecvBytes int
}

// DefaultLimits are the limits of a gateway whose Config.Limits leaves them zero.
func DefaultLimits() Limits {
	return Limits{
		HTTPReadHeaderTimeout:    10 * time.Second,
		HTTPIdleTimeout:          2 * time.Minute,
		HTTPWriteTimeout:         time.Minute,
		HTTPMaxHeaderBytes:       http.DefaultMaxHeaderBytes,
		GRPCMaxConcurrentStreams: 1000,
		GRPCKeepaliveMinTime:     10 * time.Second,
		GRPCMaxConnectionIdle:    5 * time.Minute,
		GRPCMaxRecvBytes:         4 << 20,
	}
}

func (l *Limits) defaults() {
	d := DefaultLimits()
	setDefault(&l.HTTPReadHeaderTimeout, d.HTTPReadHeaderTimeout)
	setDefault(&l.HTTPIdleTimeout, d.HTTPIdleTimeout)
	setDefault(&l.HTTPWriteTimeout, d.HTTPWriteTimeout)
	setDefault(&l.HTTPMaxHeaderBytes, d.HTTPMaxHeaderBytes)
	setDefault(&l.GRPCMaxConcurrentStreams, d.GRPCMaxConcurrentStreams)
	setDefault(&l.GRPCKeepaliveMinTime, d.GRPCKeepaliveMinTime)
	setDefault(&l.GRPCMaxConnectionIdle, d.GRPCMaxConnectionIdle)
	setDefault(&l.GRPCMaxRecvBytes, d.GRPCMaxRecvBytes)
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (c *Config) defaults() {
	if c.GRPCAddr == "" {
		c.GRPCAddr = "127.0.0.1:9090"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.Schema == "" {
		c.Schema = "public"
	}
	if c.AlertsSchema == "" {
		c.AlertsSchema = migrations.DefaultAlertsSchema
	}
	if c.StartupTimeout == 0 {
		c.StartupTimeout = kafka.DefaultStartupTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.ClientID == "" {
		c.ClientID = "telemetra-gateway"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.RankingInterval <= 0 {
		c.RankingInterval = DefaultRankingInterval
	}
	c.Limits.defaults()
}

// Server is a running gateway.
type Server struct {
	grpcLis, httpLis net.Listener
	done             chan struct{}
	err              error
}

// GRPCAddr is the gRPC listen address.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr is the REST listen address.
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// Wait blocks until the server has stopped (ctx of Start ended) and returns why.
func (s *Server) Wait() error {
	<-s.done
	return s.err
}

// Start listens and serves until ctx ends, then shuts down gracefully: health turns NOT_SERVING,
// subscriptions end with UNAVAILABLE (clients reconnect elsewhere), in-flight RPCs finish.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg.defaults()
	var opened closers
	srv, err := start(ctx, cfg, &opened)
	if err != nil {
		opened.close()
		return nil, err
	}
	return srv, nil
}

// closers release what a gateway has opened (database pool, listeners, the loopback client),
// in the order it was opened.
type closers []func()

// add records release to run before everything added earlier.
func (c *closers) add(release func()) { *c = append(*c, release) }

// close releases everything, the last opened first.
func (c closers) close() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// start builds the gateway's pieces and runs them; each piece adds what it opened to opened,
// which Start closes if start fails and the running gateway closes once it has stopped.
func start(ctx context.Context, cfg Config, opened *closers) (*Server, error) {
	tlsCfg, err := loadTLS(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, err
	}
	history, alerts, err := openHistory(ctx, cfg, opened)
	if err != nil {
		return nil, err
	}
	document, spec, err := apiDocument()
	if err != nil {
		return nil, err
	}
	live, view, err := openLive(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h := hub.New(hub.WithInitialHeartbeat(), hub.WithBufferSize(cfg.SubscriberBuffer), hub.WithMaxSubscribers(cfg.MaxSubscribers),
		hub.WithHeartbeat(cfg.Heartbeat), hub.WithMetrics(hub.NewMetrics(cfg.Registry)))
	grpcLis, err := listen(opened, "gRPC", cfg.GRPCAddr)
	if err != nil {
		return nil, err
	}
	httpLis, err := listen(opened, "HTTP", cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	sampler, err := newHealthSampler(cfg, history, live, opened)
	if err != nil {
		return nil, err
	}
	rankings := newLiveRankings(cfg.RankingInterval, cfg.Now, cfg.Registry)
	svc := &service{live: live, store: history, alerts: alerts, hub: h, health: sampler, rankings: rankings, now: cfg.Now, logger: cfg.Logger, subscriptionMaxAge: cfg.SubscriptionMaxAge}
	gs, healthSrv := newGRPCServer(cfg, svc, tlsCfg)
	conn, err := dialSelf(opened, grpcLis.Addr().String(), tlsCfg)
	if err != nil {
		return nil, err
	}
	handler, err := newHTTPHandler(ctx, cfg.Logger, conn, document, spec)
	if err != nil {
		return nil, err
	}
	srv := &Server{grpcLis: grpcLis, httpLis: httpLis, done: make(chan struct{})}
	srv.run(ctx, cfg, running{
		view: view, live: live, hub: h, vitals: sampler, rankings: rankings, health: healthSrv, grpc: gs, http: newHTTPServer(cfg.Limits, handler, tlsCfg), tls: tlsCfg != nil,
	}, *opened)
	return srv, nil
}

// loadTLS loads the serving certificate; nil (plain text) when neither file is set.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// openHistory connects the history store and the alerting state, nil when no database is
// configured. An unreachable database is no failure: history calls answer UNAVAILABLE until it
// is back.
func openHistory(ctx context.Context, cfg Config, opened *closers) (*store.Store, *store.Alerts, error) {
	if cfg.DatabaseURL == "" {
		cfg.Logger.Warn("history is off: no database configured (--database-url); only live reads and subscriptions are served")
		return nil, nil, nil
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("database config: %w", err)
	}
	opened.add(pool.Close)
	pingCtx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	if err := pool.Ping(pingCtx); err != nil {
		cfg.Logger.Warn("history database unreachable at start; history calls answer UNAVAILABLE until it is back", "err", err)
	}
	return store.New(pool, cfg.Schema), store.NewAlerts(pool, cfg.AlertsSchema), nil
}

// openLive returns cfg.Live, or else a new View of the processor's table (also returned, to be
// run).
func openLive(ctx context.Context, cfg Config) (LiveStates, *View, error) {
	if cfg.Live != nil {
		return cfg.Live, nil, nil
	}
	view, err := NewView(ctx, cfg.Brokers, cfg.Generation, cfg.ClientID+"-view", cfg.Logger,
		kafka.WithStartupTimeout(max(cfg.StartupTimeout, 0)), kafka.WithLogger(cfg.Logger))
	if err != nil {
		return nil, nil, err
	}
	return view, view, nil
}

// newGRPCServer returns the gRPC server of svc, with health (NOT_SERVING until the live view
// has recovered) and reflection.
func newGRPCServer(cfg Config, svc *service, tlsCfg *tls.Config) (*grpc.Server, *health.Server) {
	metrics := newRPCMetrics(cfg.Registry)
	lim := cfg.Limits
	opts := []grpc.ServerOption{
		grpc.ForceServerCodec(requestCodec{}),
		grpc.MaxRecvMsgSize(lim.GRPCMaxRecvBytes),
		grpc.MaxConcurrentStreams(lim.GRPCMaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: lim.GRPCKeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: lim.GRPCMaxConnectionIdle}),
		grpc.ChainUnaryInterceptor(unaryInterceptor(metrics, cfg.Logger, cfg.AuthToken, cfg.RequestTimeout)),
		grpc.ChainStreamInterceptor(streamInterceptor(metrics, cfg.Logger, cfg.AuthToken)),
	}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	gs := grpc.NewServer(opts...)
	pb.RegisterTelemetraServiceServer(gs, svc)
	healthSrv := health.NewServer()
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(gs, healthSrv)
	reflection.Register(gs)
	return gs, healthSrv
}

// listen opens a TCP listener on addr for what (gRPC, HTTP).
func listen(opened *closers, what, addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for %s: %w", what, err)
	}
	// the servers close their listeners when they stop; closing one again is harmless
	opened.add(func() { _ = lis.Close() })
	return lis, nil
}

// dialSelf returns a client of the gateway's own gRPC listener at addr. REST calls go through
// the gRPC server itself, so auth, deadlines, metrics and logs apply alike; it is the only way
// grpc-gateway serves streaming methods.
func dialSelf(opened *closers, addr string, tlsCfg *tls.Config) (*grpc.ClientConn, error) {
	dialCreds := insecure.NewCredentials()
	if tlsCfg != nil {
		// a loopback hop to our own listener: the certificate is ours, its name may not be
		dialCreds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(dialCreds))
	if err != nil {
		return nil, fmt.Errorf("gateway client: %w", err)
	}
	opened.add(func() { _ = conn.Close() })
	return conn, nil
}

// newHTTPHandler routes the REST API (through conn), its SSE stream, health, the OpenAPI
// document and the dashboard.
func newHTTPHandler(ctx context.Context, logger *slog.Logger, conn *grpc.ClientConn, document []byte, spec *openapi.Spec) (http.Handler, error) {
	marshaler := &apiMarshaler{}
	// one JSON encoding whatever the client accepts: unset fields are left out, never null
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler),
		runtime.WithMarshalerOption("application/json", marshaler),
		runtime.WithHealthzEndpoint(healthpb.NewHealthClient(conn)),
	)
	client := pb.NewTelemetraServiceClient(conn)
	if err := pb.RegisterTelemetraServiceHandlerClient(ctx, mux, client); err != nil {
		return nil, fmt.Errorf("register REST routes: %w", err)
	}
	api := http.NewServeMux()
	api.Handle("/", mux)
	api.Handle("GET "+ssePath, sseHandler(client, logger))
	api.Handle("GET "+exportPath, exportHandler(client, logger))
	httpMux := http.NewServeMux()
	httpMux.Handle("/v1/", &restFront{spec: spec, next: api})
	httpMux.Handle("GET /healthz", mux)
	httpMux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(document)
	})
	httpMux.Handle("GET "+dashboard.Path, dashboard.Handler())
	httpMux.Handle("GET /{$}", http.RedirectHandler(dashboard.Path, http.StatusFound))
	return accessLog(logger, httpMux), nil
}

// newHTTPServer returns the HTTP server of handler within lim.
func newHTTPServer(lim Limits, handler http.Handler, tlsCfg *tls.Config) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: lim.HTTPReadHeaderTimeout,
		IdleTimeout:       lim.HTTPIdleTimeout,
		WriteTimeout:      lim.HTTPWriteTimeout,
		MaxHeaderBytes:    lim.HTTPMaxHeaderBytes,
		TLSConfig:         tlsCfg,
	}
}

// running are the pieces of a gateway that run until it stops.
type running struct {
	view   *View // nil when Config.Live replaces it
	live   LiveStates
	hub    *hub.Hub
	vitals *pipelinehealth.Sampler // GetPipelineHealth's figures
	health *health.Server
	grpc   *grpc.Server
	http   *http.Server
	tls    bool

	rankings *liveRankings
}

// run serves p on the server's listeners until ctx ends or a piece fails, then shuts down and
// closes opened; Wait returns why it stopped.
func (s *Server) run(ctx context.Context, cfg Config, p running, opened closers) {
	runCtx, cancel := context.WithCancel(ctx)
	grp, gctx := errgroup.WithContext(runCtx)
	if p.view != nil {
		grp.Go(func() error { return p.view.Run(gctx) })
	}
	grp.Go(func() error {
		return newFeed(p.hub, p.rankings.Index(), cfg.Generation, cfg.Logger).run(gctx, cfg.Brokers, cfg.ClientID+"-feed")
	})
	grp.Go(func() error {
		seedRankings(gctx, p.live, p.rankings.Index(), cfg.Logger)
		return nil
	})
	grp.Go(func() error { return p.vitals.Run(gctx) })
	grp.Go(func() error {
		awaitRecovery(gctx, p.live, p.health, cfg.Logger)
		return nil
	})
	grp.Go(func() error { return p.grpc.Serve(s.grpcLis) })
	grp.Go(func() error {
		var err error
		if p.tls {
			err = p.http.ServeTLS(s.httpLis, "", "")
		} else {
			err = p.http.Serve(s.httpLis)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	grp.Go(func() error {
		<-gctx.Done()
		shutdown(context.WithoutCancel(ctx), p)
		return nil
	})
	cfg.Logger.Info("gateway listening", "grpc", s.GRPCAddr(), "http", s.HTTPAddr(), "tls", p.tls, "auth", cfg.AuthToken != "")
	go func() {
		err := grp.Wait()
		cancel()
		opened.close()
		if errors.Is(err, context.Canceled) || errors.Is(err, grpc.ErrServerStopped) {
			err = nil
		}
		s.err = err
		close(s.done)
	}()
}

// awaitRecovery turns health SERVING once live has loaded the table, unless ctx ends first.
func awaitRecovery(ctx context.Context, live LiveStates, healthSrv *health.Server, logger *slog.Logger) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !live.Recovered() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	logger.Info("gateway serving: live view recovered")
}

// shutdown stops p gracefully: health NOT_SERVING, subscriptions (to channel events and to
// rankings) ended with UNAVAILABLE (their clients reconnect elsewhere), then the HTTP and gRPC
// servers let in-flight calls finish for up to 10s before the gRPC server cuts the rest.
func shutdown(ctx context.Context, p running) {
	p.health.Shutdown()
	p.hub.Close()
	p.rankings.close()
	shutdownCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	_ = p.http.Shutdown(shutdownCtx)
	stopped := make(chan struct{})
	go func() { p.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		p.grpc.Stop()
	}
}
