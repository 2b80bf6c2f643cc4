// The step list and the timeline of a replayed run, from a hand-made two-thread replay: a named column per entity
// that ran (and none for those that did not), rows in step order, every line of a timeline equally wide and within
// the width asked for, a cell cut short with "…", no step printed empty, untraced steps of one thread collapsed.
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class TraceTextTests
{
    private static readonly string[] Entities = ["first", "second", "irq0", "rcu"];

    private static ReplayStep Step(long step, int entity, string note, params TraceEntry[] events) =>
        new(step, entity, Entities[entity], events, note);

    /// <summary>first: a TLB hit, two untraced steps, a wait; second: irqs off and a long GUP-fast read in between.</summary>
    private static Replay TwoThreads()
    {
        var steps = new List<ReplayStep>
        {
            Step(0, 0, "", new TraceEntry(0, TraceEvents.TlbHit, 0x40000000, 5, 0)),
            Step(1, 1, "", new TraceEntry(1, TraceEvents.LocalIrqDisable, 0, 1, 0), new TraceEntry(1, TraceEvents.GupFastIrqOff, 0x40000000, 0, 0)),
            Step(2, 0, "no traced event: a lock taken or a scheduling point"),
            Step(3, 0, "no traced event: a lock taken or a scheduling point"),
            Step(4, 1, "", new TraceEntry(4, TraceEvents.GupFastRead, 0x40000000, 0x3027, 0)),
            Step(5, 0, "waits for mmap_lock held by second"),
        };
        var result = new RunResult(RunOutcome.Completed, null, steps.Count, [.. steps.Select(s => s.Entity)], 0, null);
        return new Replay(result, Verdict.Clean, Entities, steps, [], []);
    }

    [Fact]
    public void The_timeline_of_two_threads_has_their_two_named_columns_and_a_row_per_step()
    {
        var lines = TraceText.Timeline(TwoThreads(), 160).ToList();
        Assert.Matches(@"^step +\| first +\| second +\|$", lines[0]);
        Assert.DoesNotContain("irq0", lines[0]);
        Assert.Matches(@"^-+(\+-+)+\+$", lines[1]);
        Assert.Matches(@"^   #0 +\| tlb hit addr=0x40000000 pfn=0x5 +\| +\|$", lines[2]);
        Assert.Matches(@"^   #1 +\| +\| local_irq_disable depth=1 +\|$", lines[3]);
        Assert.Matches(@"^ +\| +\| gup_fast irq off addr=0x40000000 +\|$", lines[4]);
        Assert.Matches(@"^   #2-3 +\| \(2 steps: no traced event: a lock taken or a scheduling point\) +\| +\|$", lines[5]);
        Assert.Matches(@"^   #4 +\| +\| gup_fast read addr=0x40000000 entry=pfn 0x3 rw user young +\|$", lines[6]);
        Assert.Matches(@"^   #5 +\| \(waits for mmap_lock held by second\) +\| +\|$", lines[7]);
        Assert.Equal(8, lines.Count);
        Assert.Single(lines.Select(l => l.Length).Distinct());
        Assert.True(lines[0].Length <= 160);
    }

    [Fact]
    public void A_narrow_timeline_cuts_cells_with_a_marker_and_keeps_every_line_as_wide()
    {
        var lines = TraceText.Timeline(TwoThreads(), 60).ToList();
        Assert.All(lines, l => Assert.True(l.Length <= 60, l));
        Assert.Single(lines.Select(l => l.Length).Distinct());
        Assert.Contains(lines, l => l.Contains("gup_fast read addr=0x…"));
    }

    [Fact]
    public void The_step_list_prints_each_event_on_its_line_and_no_step_empty()
    {
        var lines = TraceText.Steps(TwoThreads()).ToList();
        Assert.Equal(
        [
            "   #0    first   tlb hit addr=0x40000000 pfn=0x5",
            "   #1    second  local_irq_disable depth=1",
            "                 gup_fast irq off addr=0x40000000",
            "   #2-3  first   (2 steps: no traced event: a lock taken or a scheduling point)",
            "   #4    second  gup_fast read addr=0x40000000 entry=pfn 0x3 rw user young",
            "   #5    first   (waits for mmap_lock held by second)",
        ], lines);
    }
}
