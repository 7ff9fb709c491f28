package aggregator

import (
	"context"
	"sync"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// visitGuard keeps the sweeps' visits of the table (goka's VisitAll) apart from goka setting
// up and stopping its partition processors at a rebalance. goka v1.1.17 races there: a visit
// that starts while a partition processor stops may send on the visit channel that the stop
// has just closed, a panic that takes the process down. Rebalances come often when brokers are
// lost, so the sweeps hold the guard shared while they visit, and each rebalance step holds it
// exclusively: it waits for a visit in flight (which completes, the partitions still running),
// and no visit starts until it is done. Left open in goka: a visit cut short (its context
// ended, at a shutdown) returns while visits it queued are still done later, which write
// VisitAllWithStats's counter after it was read; a data race on a count nobody here uses.
type visitGuard struct{ mu sync.RWMutex }

// visit runs goka's VisitAll under the guard.
func (g *visitGuard) visit(ctx context.Context, proc *goka.Processor, name string) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return proc.VisitAll(ctx, name, nil)
}

// groupBuilder wraps goka's consumer groups so that their sessions' Setup and Cleanup, where
// goka starts and stops its partition processors, hold the guard.
func (g *visitGuard) groupBuilder(build goka.ConsumerGroupBuilder) goka.ConsumerGroupBuilder {
	return func(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
		cg, err := build(brokers, group, clientID)
		if err != nil {
			return nil, err
		}
		return guardedGroup{ConsumerGroup: cg, guard: g}, nil
	}
}

type guardedGroup struct {
	sarama.ConsumerGroup
	guard *visitGuard
}

func (c guardedGroup) Consume(ctx context.Context, topics []string, handler sarama.ConsumerGroupHandler) error {
	return c.ConsumerGroup.Consume(ctx, topics, guardedHandler{ConsumerGroupHandler: handler, guard: c.guard})
}

type guardedHandler struct {
	sarama.ConsumerGroupHandler
	guard *visitGuard
}

func (h guardedHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.guard.mu.Lock()
	defer h.guard.mu.Unlock()
	return h.ConsumerGroupHandler.Setup(s)
}

func (h guardedHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.guard.mu.Lock()
	defer h.guard.mu.Unlock()
	return h.ConsumerGroupHandler.Cleanup(s)
}
