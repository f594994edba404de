package timeline

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ now time.Duration }

func (c *fakeClock) read() time.Duration { return c.now }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestTimelineRecordsOverlappingSteps(t *testing.T) {
	c := &fakeClock{}
	tl := New(c.read)
	tl.Add("kernel", 0, ms(1500))
	c.now = ms(1600)
	tl.Begin("data")
	c.now = ms(1700)
	endLink := tl.Span("link") // in parallel with data
	c.now = ms(1750)
	endLink()
	c.now = ms(2100)
	tl.End("data")
	tl.Begin("data") // a second start of a step does not move it
	tl.End("never begun")

	steps, missing := tl.Steps()
	want := []Step{
		{Name: "kernel", Start: 0, End: ms(1500), Done: true},
		{Name: "data", Start: ms(1600), End: ms(2100), Done: true},
		{Name: "link", Start: ms(1700), End: ms(1750), Done: true},
	}
	if !reflect.DeepEqual(steps, want) || missing != nil {
		t.Errorf("steps = %+v, missing %v\nwant %+v", steps, missing, want)
	}
}

func TestTimelineCompletes(t *testing.T) {
	tests := []struct {
		name string
		run  func(tl *Timeline)
		want bool
	}{
		{"every begun step ended", func(tl *Timeline) { tl.Begin("a"); tl.End("a") }, true},
		{"a step still running", func(tl *Timeline) { tl.Begin("a"); tl.Begin("b"); tl.End("a") }, false},
		{"an expected step not begun", func(tl *Timeline) {
			tl.Expect("service:edgecore")
			tl.Begin("a")
			tl.End("a")
		}, false},
		{"an expected step ended", func(tl *Timeline) {
			tl.Expect("service:edgecore")
			tl.Begin("service:edgecore")
			tl.End("service:edgecore")
		}, true},
		{"an expected step dropped", func(tl *Timeline) {
			tl.Expect("cloud", "service:edgecore")
			tl.Begin("cloud")
			tl.Begin("service:edgecore")
			tl.End("service:edgecore")
			tl.Drop("cloud")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := New((&fakeClock{}).read)
			tt.run(tl)
			tl.AllExpected()
			select {
			case <-tl.Complete():
				if !tt.want {
					t.Error("complete, want not")
				}
			default:
				if tt.want {
					t.Error("not complete, want complete")
				}
			}
		})
	}
}

// Until every step to wait for is declared, a timeline whose steps all
// ended is not complete: the services are declared after the first steps
// of the boot ended.
func TestTimelineCompletesOnlyOnceArmed(t *testing.T) {
	tl := New((&fakeClock{}).read)
	tl.Begin("modules")
	tl.End("modules")
	select {
	case <-tl.Complete():
		t.Fatal("complete before AllExpected")
	default:
	}
	tl.Expect("service:containerd")
	tl.AllExpected()
	select {
	case <-tl.Complete():
		t.Fatal("complete with an expected step not begun")
	default:
	}
	tl.Begin("service:containerd")
	tl.End("service:containerd")
	select {
	case <-tl.Complete():
	default:
		t.Fatal("not complete once every step ended")
	}
}

func TestDropKeepsTheOtherSteps(t *testing.T) {
	c := &fakeClock{}
	tl := New(c.read)
	for i, n := range []string{"a", "b", "c"} {
		c.now = ms(i)
		tl.Begin(n)
	}
	tl.Drop("b")
	tl.End("c") // found by name after the drop moved it
	steps, _ := tl.Steps()
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"a", "c"}) || !steps[1].Done || steps[0].Done {
		t.Errorf("steps after dropping b: %+v", steps)
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		name    string
		steps   []Step
		missing []string
		want    string
	}{
		{"done", []Step{{Name: "kernel", End: ms(1534), Done: true}, {Name: "service:containerd", Start: ms(2650), End: ms(5770), Done: true}},
			nil, "timeline kernel=0+1534 service:containerd=2650+3120"},
		{"running and missing", []Step{{Name: "cloud", Start: ms(4000)}}, []string{"service:edgecore"},
			"timeline cloud=4000+? service:edgecore=?"},
		{"nothing", nil, nil, "timeline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Line(tt.steps, tt.missing)
			if got != tt.want {
				t.Fatalf("Line = %q, want %q", got, tt.want)
			}
			steps, missing, err := ParseLine(got)
			if err != nil || !reflect.DeepEqual(steps, tt.steps) || !reflect.DeepEqual(missing, tt.missing) {
				t.Errorf("ParseLine(%q) = %+v, %v, %v", got, steps, missing, err)
			}
		})
	}
}

func TestParseLineRefusesWhatLineDoesNotWrite(t *testing.T) {
	for _, in := range []string{
		"kernel=0+15",               // no prefix
		"timeline kernel",           // no value
		"timeline =0+1",             // no name
		"timeline kernel=0",         // no duration
		"timeline kernel=x+1",       // start not a number
		"timeline kernel=0+-3",      // negative duration
		"timeline kernel=-1+3",      // negative start
		"timeline kernel=0+1.5",     // not whole ms
		"timelinekernel=0+1",        // prefix run into the steps
		"timeline kernel=0+1 bogus", // a word that is no step
	} {
		if _, _, err := ParseLine(in); err == nil {
			t.Errorf("ParseLine(%q): no error", in)
		}
	}
}
