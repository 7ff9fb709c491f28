package projector

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

func timeOrNil(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime()
	return &t
}
