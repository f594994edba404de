package boot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// DegradedDir holds one file for each part of the gateway that runs
// degraded, named after the part ("var": the data partition is not
// mounted), holding one line that says why. edgecore's node status turns
// each into a node condition, so the fleet sees it too.
const DegradedDir = "/run/edgegate/degraded"

// degraded is a part of the gateway running without what it should have.
type degraded struct {
	part, reason string
}

// degrade records that part runs degraded: a console line now, the file
// in DegradedDir, and the ready line's degraded= field.
func (s *System) degrade(part, reason string) {
	d := degraded{part: part, reason: oneLine(reason)}
	s.degraded = append(s.degraded, d)
	s.Console.Say("%s", d)
	if err := writeDegraded(DegradedDir, d); err != nil {
		s.Console.Say("%v", err)
	}
}

func (d degraded) String() string {
	return fmt.Sprintf("DEGRADED %s: %s", d.part, d.reason)
}

func writeDegraded(dir string, d degraded) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("degraded %s: %w", d.part, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, d.part), []byte(d.reason+"\n"), 0o644); err != nil {
		return fmt.Errorf("degraded %s: %w", d.part, err)
	}
	return nil
}

// readyLine is the status line that ends the boot; a degraded gateway
// says so in it, as "degraded=var".
func readyLine(version, slot, board string, ds []degraded) string {
	line := fmt.Sprintf("ready version=%s slot=%s board=%s", version, slot, board)
	if len(ds) == 0 {
		return line
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.part
	}
	return line + " degraded=" + strings.Join(parts, ",")
}

// oneLine keeps a reason on one line: the file and the console both take
// a line per reason.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
