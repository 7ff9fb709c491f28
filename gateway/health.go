package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway/pipelinehealth"
	"github.com/telemetra/telemetra/gateway/store"
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/views/projector"
)

// GetPipelineHealth answers the newest sample of the pipeline's figures: the sampler reads
// Kafka and PostgreSQL once per interval for every caller, a call reads neither.
func (s *service) GetPipelineHealth(context.Context, *pb.GetPipelineHealthRequest) (*pb.PipelineHealth, error) {
	return pipelineHealth(s.health.Latest()), nil
}

// pipelineHealth is a report as the API's message: figures that could not be read are left
// unset (a lag, a freshness) or 0 (a rate), and the problems say why.
func pipelineHealth(r pipelinehealth.Report) *pb.PipelineHealth {
	out := &pb.PipelineHealth{State: r.State, Problems: r.Problems}
	if !r.At.IsZero() {
		out.AsOf = timestamppb.New(r.At)
	}
	for _, l := range r.Lags {
		if l.Err == nil {
			out.Consumers = append(out.Consumers, &pb.ConsumerLag{Consumer: l.Consumer, LagRecords: l.Records})
		}
	}
	if r.LiveErr == nil && !r.At.IsZero() {
		out.LiveFreshness = durationpb.New(r.LiveFreshness)
	}
	if r.History && r.ProjectionErr == nil {
		out.ProjectionFreshness = durationpb.New(r.ProjectionFreshness)
	}
	if r.DeadLettersErr == nil {
		out.DeadLettersPerMinute = r.DeadLettersPerMinute
	}
	if r.DeadLettersTotalErr == nil {
		out.DeadLettersTotal = r.DeadLettersTotal
	}
	if r.LateEventsErr == nil {
		out.LateEventsPerMinute = r.LateEventsPerMinute
	}
	return out
}

// updateTracker is a LiveStates that knows the update time of its newest state (View does).
type updateTracker interface {
	NewestUpdate() time.Time
}

var (
	errLiveLoading    = errors.New("the live view is still loading the processor's state")
	errLiveUntracked  = errors.New("the live states do not track their update times")
	errHistoryDown    = errors.New("the history database is unavailable")
	errOffsetsMissing = errors.New("the topics' offsets could not be listed")
)

// healthSource reads one sample of the pipeline's figures: the end and start offsets of every
// topic involved in one call each, the processor group's committed offsets, the projector's
// offsets and newest window from PostgreSQL, and the live view's newest update from memory.
type healthSource struct {
	adm        *kadm.Client
	outputs    kafka.Outputs
	group      string           // the processor generation's goka group
	projection projector.Config // the projector whose offsets the history holds
	history    *store.Store     // nil: no history, so neither projector lag nor projection freshness
	live       LiveStates
	logger     *slog.Logger
}

func newHealthSource(adm *kadm.Client, cfg Config, history *store.Store, live LiveStates) *healthSource {
	return &healthSource{
		adm: adm, outputs: kafka.OutputsFor(cfg.Generation), group: string(table.Group(cfg.Generation)),
		projection: projector.Config{Schema: cfg.Schema, Generation: cfg.Generation}, history: history, live: live, logger: cfg.Logger,
	}
}

func (h *healthSource) Read(ctx context.Context) pipelinehealth.Reading {
	inputs, projected := kafka.InputTopics(), projector.Topics(h.outputs.Generation)
	read := slices.Concat(inputs, projected)
	deadLetters := []string{h.outputs.DLQ, h.outputs.ProjectorDLQ}
	ends, endsErr := h.adm.ListEndOffsets(ctx, slices.Concat(read, deadLetters, []string{h.outputs.Late})...)
	starts, startsErr := h.adm.ListStartOffsets(ctx, read...)
	if endsErr != nil || startsErr != nil {
		h.logger.Debug("pipeline health: listing offsets failed", "end_offsets_err", endsErr, "start_offsets_err", startsErr)
	}
	offsetsErr := kafkaError(errors.Join(endsErr, startsErr))

	r := pipelinehealth.Reading{History: h.history != nil}
	r.Lags = append(r.Lags, h.processorLag(ctx, starts, ends, offsetsErr))
	if r.History {
		r.Lags = append(r.Lags, h.projectorLag(ctx, starts, ends, offsetsErr))
		r.NewestEmit, r.ProjectionErr = h.newestEmit(ctx)
	}
	if endsErr != nil {
		r.DeadLettersErr, r.LateEventsErr = offsetsErr, offsetsErr
	} else {
		r.DeadLetters, r.DeadLettersErr = kafka.RecordsWritten(ends, deadLetters...)
		r.LateEvents, r.LateEventsErr = kafka.RecordsWritten(ends, h.outputs.Late)
	}
	r.NewestLiveUpdate, r.LiveErr = h.newestLiveUpdate()
	return r
}

func (h *healthSource) processorLag(ctx context.Context, starts, ends kadm.ListedOffsets, offsetsErr error) pipelinehealth.Lag {
	l := pipelinehealth.Lag{Consumer: pipelinehealth.ConsumerProcessor, Err: offsetsErr}
	if l.Err != nil {
		return l
	}
	reader, err := kafka.GroupReaderOf(ctx, h.adm, h.group, kafka.InputTopics())
	if err != nil {
		l.Err = err
		return l
	}
	l.Records, l.Err = reader.Lag(starts, ends)
	return l
}

// projectorLag compares the offsets the projector stored with its rows with the ends of the
// topics it projects (it commits none to Kafka).
func (h *healthSource) projectorLag(ctx context.Context, starts, ends kadm.ListedOffsets, offsetsErr error) pipelinehealth.Lag {
	l := pipelinehealth.Lag{Consumer: pipelinehealth.ConsumerProjector, Err: offsetsErr}
	if l.Err != nil {
		return l
	}
	stored, err := h.history.ProjectorOffsets(ctx, h.projection)
	if err != nil {
		h.logger.Debug("pipeline health: reading the projector's offsets failed", "err", err)
		l.Err = errHistoryDown
		return l
	}
	reader := kafka.Reader{Topics: projector.Topics(h.outputs.Generation), Next: stored}
	l.Records, l.Err = reader.Lag(starts, ends)
	return l
}

func (h *healthSource) newestEmit(ctx context.Context) (time.Time, error) {
	at, ok, err := h.history.NewestEmit(ctx)
	switch {
	case err != nil:
		h.logger.Debug("pipeline health: reading the newest projected window failed", "err", err)
		return time.Time{}, errHistoryDown
	case !ok:
		return time.Time{}, pipelinehealth.ErrNoWindow
	default:
		return at, nil
	}
}

func (h *healthSource) newestLiveUpdate() (time.Time, error) {
	if !h.live.Recovered() {
		return time.Time{}, errLiveLoading
	}
	tracker, ok := h.live.(updateTracker)
	if !ok {
		return time.Time{}, errLiveUntracked
	}
	return tracker.NewestUpdate(), nil
}

// kafkaError is err as a client may read it: the broker's answer, not the client's internals.
func kafkaError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: Kafka did not answer in time", errOffsetsMissing)
	}
	return fmt.Errorf("%w: %v", errOffsetsMissing, err)
}

// newHealthSampler returns the gateway's one sampler of the pipeline's figures, with a Kafka
// admin client of its own (added to opened).
func newHealthSampler(cfg Config, history *store.Store, live LiveStates, opened *closers) (*pipelinehealth.Sampler, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ClientID(cfg.ClientID+"-health"))
	if err != nil {
		return nil, fmt.Errorf("pipeline health client: %w", err)
	}
	opened.add(cl.Close)
	thresholds := pipelinehealth.DefaultThresholds()
	if cfg.HealthThresholds != nil {
		thresholds = *cfg.HealthThresholds
	}
	src := newHealthSource(kadm.NewClient(cl), cfg, history, live)
	return pipelinehealth.NewSampler(src, pipelinehealth.Options{
		Interval: cfg.HealthInterval, Thresholds: thresholds, Now: cfg.Now,
		Metrics: pipelinehealth.NewMetrics(cfg.Registry), Logger: cfg.Logger,
	}), nil
}
