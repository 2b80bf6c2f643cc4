// Outcomes and assertions through the real command line: what `pv run` prints of each operation's outcome, an
// operation's `=>` assertion found broken by a search (a counterexample that replays to the same verdict), the final
// conditions `exists`, `~exists` and `forall` judged over a run or a search (exit 1 when not met), `pv explore
// --outcomes` (the histogram: the same for every --jobs), the ports of the kernel's guard-regions and mremap
// selftests in scenarios/selftests (each explored clean with every assertion holding), and the parser's errors.
using Pv.Cli;

namespace Pv.Cli.Tests;

public sealed class OutcomeCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) =>
        Cli.Run(Path.GetTempPath(), [.. args, "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json"), "--db", Cli.Db()]);

    /// <summary>One thread guards a page and reads it; another reads it once, before or after.</summary>
    private static string Guard(string tail, string firstRead = "read 0x40001000 => segv") => Fixtures.WriteFile($"outcome-{Guid.NewGuid():N}.pvl", $"""
        backend x86-native
        cpus 2
        mm proc
          vma 0x40000000 8K rw
        thread t cpu 0 mm proc
          write 0x40001000 = 7
          madvise guard 0x40001000 4K => ok
          {firstRead}
          madvise guard-remove 0x40001000 4K
          read 0x40001000 as after
        thread peer cpu 1 mm proc
          read 0x40001000 as seen
        {tail}
        """);

    [Fact]
    public void Run_prints_each_operations_outcome_and_judges_the_final_condition_on_its_run()
    {
        // The sequential schedule runs t to the end first: the guard removed, the page is a zero page again for both.
        var (exit, output, _) = Run("run", Guard("exists seen=0 /\\ after=0"));
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains("outcomes: after=0 seen=0", output);
        Assert.Contains("condition exists (seen=0 /\\ after=0)", output);
        Assert.Contains(": met; Always (positive 1, negative 0)", output);

        (exit, output, _) = Run("run", Guard("exists seen=7"));
        Assert.Equal(PvExitCode.Violation, exit);
        Assert.Contains(": NOT MET; Never (positive 0, negative 1)", output);
    }

    [Fact]
    public void A_search_judges_exists_over_every_run_and_prints_the_histogram()
    {
        // The peer sees the written 7 only between t's write and its guard: some schedules, not all.
        var (exit, output, _) = Run("explore", Guard("exists seen=7"), "-n", "300", "--outcomes");
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains("outcomes: 300 completed run(s), 3 distinct final state(s)", output);
        Assert.Matches(@"\n +[0-9,]+  after=0 seen=7\r?\n", output);
        Assert.Matches(@"\n +[0-9,]+  after=0 seen=segv\r?\n", output);
        Assert.Contains(": met; Sometimes", output);
        long total = output.Split('\n').Where(l => l.Contains("  after=")).Sum(l => long.Parse(l.Trim().Split("  ")[0].Replace(",", "")));
        Assert.Equal(300, total);

        // ~exists: a run where the peer saw 7 is a counterexample of the condition.
        (exit, output, _) = Run("explore", Guard("~exists seen=7"), "-n", "300", "--out", Cx());
        Assert.Equal(PvExitCode.Violation, exit);
        Assert.Contains("which breaks `~exists seen=7`", output);
        Assert.Contains("verdict: assertion (expected clean) — NOT AS EXPECTED", output);
    }

    [Fact]
    public void The_histogram_is_the_same_for_every_number_of_workers()
    {
        string file = Guard("forall seen=0 \\/ seen=7 \\/ seen=segv");
        string Histogram(string jobs) => string.Join('\n', Run("explore", file, "-n", "2500", "--outcomes", "--jobs", jobs).Out.Split('\n')
            .Where(l => l.StartsWith("outcomes:") || l.StartsWith("condition") || l.Contains("  after=")));
        string one = Histogram("1");
        Assert.Contains(": met; Always (positive 2,500, negative 0)", one);
        Assert.Equal(one, Histogram("2"));
    }

    [Fact]
    public void A_broken_operation_assertion_is_found_minimised_and_replays_to_the_same_verdict()
    {
        // The guarded page never reads 7: the assertion breaks on every schedule.
        string cx = Cx();
        var (exit, output, _) = Run("explore", Guard("", firstRead: "read 0x40001000 => 7"), "-n", "50", "--out", cx);
        Assert.Equal(PvExitCode.Violation, exit);
        Assert.Contains("returned segv after 1 fault where it asserts 7", output);
        Assert.Contains("verdict: assertion (expected clean)", output);
        var (replayExit, replay, _) = Cli.Run(Path.GetTempPath(), "replay", cx, "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json"));
        Assert.Equal(PvExitCode.Violation, replayExit);
        Assert.Contains("invariant broke at step", replay);
        Assert.Contains("returned segv after 1 fault where it asserts 7", replay);
    }

    [Fact]
    public void Every_ported_selftest_holds_on_every_schedule_searched()
    {
        var files = Directory.GetFiles(Path.Combine(Fixtures.RepoRoot, "scenarios", "selftests"), "*.pvl").Order().ToList();
        Assert.True(files.Count >= 12, $"{files.Count} selftest ports");
        foreach (var f in files)
        {
            var (exit, output, error) = Run("explore", f, "-n", "60");
            Assert.True(exit == PvExitCode.Ok, $"{Path.GetFileName(f)}: exit {exit}\n{output}{error}");
            Assert.Contains("verdict: clean (expected clean)", output);
            Assert.DoesNotContain("NOT MET", output);
        }
    }

    [Theory]
    [InlineData("exists nobody=0", "no operation's outcome is called 'nobody'")]
    [InlineData("exists seen=maybe", "expected an outcome: ok, segv, sigbus, oom, retry, a number")]
    [InlineData("exists (seen=0", "expected ')'")]
    [InlineData("forall seen", "expected '=' or '!=' after 'seen'")]
    [InlineData("exists seen=0\nforall seen=0", "a scenario has one final condition")]
    public void A_malformed_condition_is_refused_at_its_line_and_column(string tail, string message)
    {
        string file = Guard(tail);
        var (exit, _, error) = Run("run", file);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{file}:13:", error);
        Assert.Contains(message, error);
    }

    [Fact]
    public void A_malformed_assertion_or_a_duplicate_name_is_refused_at_its_word()
    {
        var (exit, _, error) = Run("run", Guard("", firstRead: "read 0x40001000 => sometimes"));
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Matches(@"\.pvl:8:\d+: expected the outcome the operation must return: ok, segv", error);
        (exit, _, error) = Run("run", Guard("", firstRead: "read 0x40001000 as after"));
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains("outcome name 'after' is already used at", error);
    }

    private static string Cx() => Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json");
}
