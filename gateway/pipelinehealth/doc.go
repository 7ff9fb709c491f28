// Package pipelinehealth judges the pipeline's state from a few figures the gateway measures:
// each reader's consumer lag, the freshness of the live view and of the projection, and the
// rates of dead letters and late events. Assess is the judgement (pure: figures and thresholds
// in, state and problems out); Series turns sampled totals into rates; Sampler takes one
// sample of a Source per interval, so that any number of readers of Latest cost no Kafka or
// PostgreSQL call of their own.
package pipelinehealth
