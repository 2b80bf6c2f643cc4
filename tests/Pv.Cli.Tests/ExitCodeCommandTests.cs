// The exit codes of run, explore, zoo and replay through the real command line, with one rule for all of them:
// 0 when what was found is what the scenario expects (a violation a fix-off scenario expects included), 1 when it is
// not (whichever way: a violation that should not be, or an expected one not found), 2 when nothing was selected or
// there is nothing to run.
using Pv.Cli;

namespace Pv.Cli.Tests;

public sealed class ExitCodeCommandTests
{
    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    private static (int Exit, string Out, string Err) Run(params string[] args) =>
        Cli.Run(Path.GetTempPath(), [.. args, "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json")]);

    /// <summary>A scenario whose only thread has no operation: nothing to run.</summary>
    private static readonly Lazy<string> Idle = new(() =>
        Fixtures.WriteFile("idle.pvl", "backend xen-pv\nmm a\n  vma 0x40000000 8K rw\nthread idle cpu 0 mm a\n"));

    [Fact]
    public void Run_is_0_when_the_verdict_is_the_expected_one_a_violation_included()
    {
        Assert.Equal(PvExitCode.Ok, Run("run", Zoo("z1-gup-fast-vs-munmap-fixed.pvl"), "--db", Cli.Db()).Exit);
        // Z4 with the sync mark missing breaks O6 on the sequential schedule, as its expect line says.
        var (exit, output, _) = Run("run", Zoo("z4-uml-missing-sync-mark.pvl"), "--db", Cli.Db());
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains("verdict: O6 (expected O6)", output);
    }

    [Fact]
    public void Run_is_1_when_the_verdict_is_not_the_expected_one_either_way()
    {
        // Z1 expects O2; the sequential schedule does not reach it.
        var (exit, output, _) = Run("run", Zoo("z1-gup-fast-vs-munmap.pvl"), "--db", Cli.Db());
        Assert.Equal(PvExitCode.Violation, exit);
        Assert.Contains("verdict: clean (expected O2) — NOT AS EXPECTED", output);
        Assert.Equal(PvExitCode.Violation, Run("run", Zoo("z4-uml-missing-sync-mark.pvl"), "--expect", "clean", "--db", Cli.Db()).Exit);
    }

    [Fact]
    public void Run_and_explore_of_a_scenario_with_nothing_to_run_are_2_at_its_thread()
    {
        foreach (var command in new[] { "run", "explore" })
        {
            var (exit, output, error) = Run(command, Idle.Value, "--db", Cli.Db());
            Assert.Equal((PvExitCode.BadInput, ""), (exit, output));
            Assert.Equal($"pv: {Idle.Value}:4:8: no thread has an operation: nothing to run" + Environment.NewLine, error);
        }
    }

    [Fact]
    public void Explore_is_0_when_it_finds_the_expected_violation_or_none_where_none_is_expected()
    {
        Assert.Equal(PvExitCode.Ok, Run("explore", Zoo("z1-gup-fast-vs-munmap.pvl"), "-n", "200", "--out", Cx(), "--db", Cli.Db()).Exit);
        Assert.Equal(PvExitCode.Ok, Run("explore", Zoo("z1-gup-fast-vs-munmap-fixed.pvl"), "-n", "200", "--db", Cli.Db()).Exit);
    }

    [Fact]
    public void Explore_is_1_when_an_expected_violation_is_not_found_or_an_unexpected_one_is()
    {
        var (exit, output, _) = Run("explore", Zoo("z1-gup-fast-vs-munmap-fixed.pvl"), "-n", "200", "--expect", "O2", "--db", Cli.Db());
        Assert.Equal(PvExitCode.Violation, exit);
        Assert.Contains("verdict: clean (expected O2) — NOT AS EXPECTED", output);
        Assert.Equal(PvExitCode.Violation, Run("explore", Zoo("z1-gup-fast-vs-munmap.pvl"), "-n", "200", "--expect", "clean", "--out", Cx(), "--db", Cli.Db()).Exit);
    }

    [Fact]
    public void Replay_is_judged_as_the_search_that_wrote_the_counterexample()
    {
        string cx = Cx();
        Assert.Equal(PvExitCode.Ok, Run("explore", Zoo("z1-gup-fast-vs-munmap.pvl"), "-n", "200", "--out", cx, "--db", Cli.Db()).Exit);
        var (exit, output, _) = Run("replay", cx);
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains("verdict: O2 (expected O2)", output);
    }

    [Fact]
    public void Zoo_is_0_when_every_entry_behaves_as_its_file_expects()
    {
        var (exit, output, error) = Run("zoo", "--only", "z1-gup-fast-vs-munmap.pvl");
        Assert.True(exit == PvExitCode.Ok, error);
        Assert.Contains("1 of 1 entries as expected", output);
    }

    [Fact]
    public void Zoo_is_1_when_an_entry_does_not_behave_as_its_file_expects()
    {
        // Z1 with the fix on, told to expect the O2 that the fix prevents.
        string text = File.ReadAllText(Zoo("z1-gup-fast-vs-munmap-fixed.pvl")).Replace("expect clean", "expect O2").Replace("schedules 5000", "schedules 200");
        string folder = Path.GetDirectoryName(Fixtures.WriteFile("z1-wrong-expectation.pvl", text))!;
        var (exit, output, _) = Run("zoo", "--dir", folder);
        Assert.Equal(PvExitCode.Violation, exit);
        Assert.Contains("0 of 1 entries as expected", output);
    }

    [Theory]
    [InlineData("--only", "z99-no-such-entry.pvl", "--only z99-no-such-entry.pvl: no such entry in")]
    [InlineData("--backend", "arm64-smmu-btm", "runs on backend arm64-smmu-btm")]
    public void Zoo_with_nothing_selected_is_2(string option, string value, string message)
    {
        var (exit, output, error) = Run("zoo", option, value);
        Assert.Equal((PvExitCode.BadInput, ""), (exit, output));
        Assert.Contains(message, error);
    }

    private static string Cx() => Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json");
}
