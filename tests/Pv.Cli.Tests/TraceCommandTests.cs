// Traces as a kernel engineer reads them, through the real command line: every event labelled in kernel terms,
// interrupt-context work (an IPI taken on the target CPU) in the trace, no step printed empty, the schedule by thread
// name, and the per-thread timeline of run, explore, zoo and replay (`pv replay` prints the step list unless asked
// for the timeline alone).
using System.Text.Json;
using Pv.Cli;

namespace Pv.Cli.Tests;

public sealed class TraceCommandTests
{
    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    private static (int Exit, string Out, string Err) Run(params string[] args) =>
        Cli.Run(Path.GetTempPath(), [.. args, "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json")]);

    /// <summary>The lines of the trace or timeline under the line <paramref name="heading"/> of <paramref name="output"/>.</summary>
    private static List<string> Section(string output, string heading) =>
        [.. output.Split(Environment.NewLine).SkipWhile(l => l != heading).Skip(1).TakeWhile(l => l.Length > 0 && (l[0] is ' ' or '>' or '-' || l.StartsWith("step", StringComparison.Ordinal)))];

    private static string Explored()
    {
        string cx = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json");
        Assert.Equal(PvExitCode.Ok, Run("explore", Zoo("z1-gup-fast-vs-munmap.pvl"), "-n", "200", "--out", cx, "--db", Cli.Db()).Exit);
        return cx;
    }

    [Fact]
    public void Run_trace_labels_every_event_shows_the_ipi_on_its_target_and_prints_no_empty_step()
    {
        // x86: munmap's flush sends a waited IPI to CPU1, which takes it in a step of its own (irq1).
        var (exit, output, error) = Run("run", Zoo("z1-gup-fast-vs-munmap-x86-native.pvl"), "--seed", "3", "--trace", "--db", Cli.Db());
        Assert.True(exit == PvExitCode.Ok, error);
        var trace = Section(output, "trace:");
        Assert.Contains(trace, l => l.Contains("unmapper  tlb_gather_mmu mm=1 tlb_flush_pending=1"));
        Assert.Contains(trace, l => l.Contains("set_pte addr=0x40000000 pte=none [table 0x5 #0]"));
        Assert.Contains(trace, l => l.Contains("ipi sent cpu=1 wait"));
        Assert.Contains(trace, l => l.Contains("irq1      ipi taken cpu=1"));
        Assert.Contains(trace, l => l.Contains("(done: its last operation returned)"));
        // Every step's line names an event or says what a step without one did (nothing ends at the agent's column), and
        // every further line of a step holds one more event.
        Assert.All(trace, l => Assert.Matches(@"^((>>|  ) #\S+ +\S+ +\S| {4,}\S)", l));
        Assert.DoesNotContain(trace, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"\b[0-9a-f]{4,} [0-9a-f]+$"));
    }

    [Fact]
    public void Explore_prints_the_violation_report_labelled_with_the_schedule_by_thread_name()
    {
        var (_, output, _) = Run("explore", Zoo("z1-gup-fast-vs-munmap.pvl"), "-n", "200", "--out", Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json"), "--db", Cli.Db());
        Assert.Contains("    #1 tlb_gather_mmu mm=1 tlb_flush_pending=1", output);
        Assert.Contains("hypercall cmd=MMUEXT_TLB_FLUSH_MULTI vcpus={0,1}", output);
        Assert.Contains("VIOLATION invariant=O2 addr=0x40000000", output);
        Assert.Matches(@"  schedule: unmapper×\d+ walker", output);
    }

    [Fact]
    public void Explore_timeline_has_a_named_column_per_thread_and_marks_the_violating_step()
    {
        var (_, output, _) = Run("explore", Zoo("z1-gup-fast-vs-munmap.pvl"), "-n", "200", "--timeline", "--out", Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json"), "--db", Cli.Db());
        var timeline = Section(output, "timeline:");
        Assert.Matches(@"^step +\| unmapper +\| walker +\|$", timeline[0]);
        Assert.Single(timeline.Select(l => l.Length).Distinct());
        var violation = Assert.Single(timeline, l => l.StartsWith(">> #", StringComparison.Ordinal));
        Assert.Matches(@"\| +\| VIOLATION invariant=O2 addr=0x40000000 +\|$", violation);
    }

    [Fact]
    public void Replay_prints_the_trace_by_default_and_with_trace_and_the_timeline_alone_when_asked()
    {
        string cx = Explored();
        var plain = Run("replay", cx);
        Assert.Equal(plain, Run("replay", cx, "--trace"));
        Assert.Contains("trace:", plain.Out);
        Assert.DoesNotContain("timeline:", plain.Out);
        var timeline = Run("replay", cx, "--timeline").Out;
        Assert.DoesNotContain("trace:", timeline);
        Assert.Contains("timeline:", timeline);
        var both = Run("replay", cx, "--trace", "--timeline").Out;
        Assert.True(both.IndexOf("trace:", StringComparison.Ordinal) < both.IndexOf("timeline:", StringComparison.Ordinal));
    }

    [Fact]
    public void Replay_json_labels_each_event_and_notes_each_step_without_one()
    {
        var (_, output, _) = Run("replay", Explored(), "--json");
        var steps = JsonDocument.Parse(output).RootElement.GetProperty("steps").EnumerateArray().ToList();
        Assert.All(steps, s => Assert.True(s.GetProperty("events").GetArrayLength() > 0 || s.GetProperty("note").GetString() is { Length: > 0 }));
        Assert.Contains(steps, s => s.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("text").GetString() == "gup_fast irq off addr=0x40000000"));
    }

    [Fact]
    public void Zoo_timeline_replays_each_entry_that_found_a_violation()
    {
        var (exit, output, error) = Run("zoo", "--only", "z1-gup-fast-vs-munmap.pvl", "--timeline");
        Assert.True(exit == PvExitCode.Ok, error);
        Assert.Matches(@"z1-gup-fast-vs-munmap on xen-pv-2012: O2 \(expected O2\) after \d+ schedules, \d+ steps:", output);
        Assert.Matches(@"step +\| unmapper +\| walker +\|", output);
    }

    [Fact]
    public void Run_trace_of_the_same_run_is_the_same_text_every_time()
    {
        string[] args = ["run", Zoo("z9-nested-flush-dontneed-race.pvl"), "--seed", "5", "--trace", "--timeline"];
        Assert.Equal(Run([.. args, "--db", Cli.Db()]).Out, Run([.. args, "--db", Cli.Db()]).Out);
    }
}
