package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// badgerLogger passes Badger's printf-style logs to a slog.Logger at the
// matching level.
type badgerLogger struct {
	l *slog.Logger
}

var _ badger.Logger = badgerLogger{}

func (b badgerLogger) Errorf(format string, args ...any) { b.log(slog.LevelError, format, args) }

func (b badgerLogger) Warningf(format string, args ...any) { b.log(slog.LevelWarn, format, args) }

func (b badgerLogger) Infof(format string, args ...any) { b.log(slog.LevelInfo, format, args) }

func (b badgerLogger) Debugf(format string, args ...any) { b.log(slog.LevelDebug, format, args) }

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	// Badger logs a lot at debug; do not format what will be dropped.
	if !b.l.Enabled(ctx, level) {
		return
	}
	// Badger's messages often end in a newline, which slog would keep.
	b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
