// Package ranking keeps the gateway's live cross-channel ranking index: per channel its latest
// figures (viewers, live, category and title from its status; chat rate, distinct chatters,
// revenue and sentiment of its last final window; moments in the last hour), fed from the
// aggregates and moments the gateway already consumes and seeded from the live view. Requests
// read sorted snapshots per metric, rebuilt at most about once an interval when something
// changed and shared by every request, so no request scans the channels (docs/api.md,
// "Rankings"). It also keeps the last minutes of final windows' emotes and categories, bucketed
// by window, for ListTrending's "now". It has no Kafka or gRPC plumbing: the gateway feeds it.
package ranking
