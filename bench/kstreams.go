package bench

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// EnsureJar builds the Kafka Streams jar with Maven when it is missing or older than any
// file of its project (the pom and src/).
func EnsureJar(ctx context.Context, pom, jar string, log func(string, ...any)) error {
	ji, err := os.Stat(jar)
	stale := err != nil
	if !stale {
		dir := filepath.Dir(pom)
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || stale {
				return err
			}
			if d.IsDir() && d.Name() == "target" {
				return filepath.SkipDir
			}
			if info, err := d.Info(); err == nil && !d.IsDir() && info.ModTime().After(ji.ModTime()) {
				stale = true
			}
			return nil
		})
	}
	if !stale {
		return nil
	}
	log("building the Kafka Streams jar: mvn -q -B -f %s package", pom)
	cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "-f", pom, "package")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: mvn package (%s): %w\n%s", pom, err, out)
	}
	if _, err := os.Stat(jar); err != nil {
		return fmt.Errorf("bench: mvn package did not make %s: %w", jar, err)
	}
	return nil
}

// ksArgs is the java command line for the Kafka Streams child of c.
func ksArgs(cfg *Config, c ChildConfig, cacheBytes int64) []string {
	argv := []string{cfg.Java, "-Xmx" + cfg.KSHeap, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-jar", cfg.Jar,
		"--brokers=" + strings.Join(c.Brokers, ","), "--app-id=" + c.AppID,
		"--input=" + c.Input, "--output=" + c.Output, "--pipeline=" + string(c.Pipeline),
		"--guarantee=" + string(c.Guarantee), fmt.Sprintf("--threads=%d", c.Workers),
		fmt.Sprintf("--commit-ms=%d", c.Commit.Milliseconds()), fmt.Sprintf("--cache-bytes=%d", cacheBytes),
		"--state-dir=" + c.StateDir, "--compression=" + c.Compression,
		fmt.Sprintf("--join-window-ms=%d", c.JoinWindow.Milliseconds())}
	if c.Side != "" {
		argv = append(argv, "--side="+c.Side)
	}
	return argv
}

// childArgs is the command line that re-executes the harness as the child of c.
func childArgs(self string, c ChildConfig) []string {
	return []string{self, "child", "-engine", string(c.Engine), "-pipeline", string(c.Pipeline),
		"-guarantee", string(c.Guarantee), "-brokers", strings.Join(c.Brokers, ","), "-input", c.Input,
		"-output", c.Output, "-app", c.AppID, "-workers", fmt.Sprint(c.Workers), "-commit", c.Commit.String(),
		"-state-dir", c.StateDir, "-compression", c.Compression, "-log-level", c.LogLevel.String(),
		"-side", c.Side, "-join-window", c.JoinWindow.String()}
}

var pomKafkaVersion = regexp.MustCompile(`<kafka\.version>([^<]+)</kafka\.version>`)

// KStreamsVersion reads the Kafka Streams version from the pom.
func KStreamsVersion(pom string) string {
	b, err := os.ReadFile(pom)
	if err != nil {
		return "unknown"
	}
	if m := pomKafkaVersion.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "unknown"
}

// JavaVersion is the first line of `java -version`.
func JavaVersion(java string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
