// Live progress: on an interactive console (Spectre's TestConsole, interactive and emitting ANSI, as a terminal is)
// the tally of a long command is drawn with its count, rate, time left and what was found so far, for explore, ab,
// zoo and soak through the real CLI; the results printed beside it are those of a redirected run. Redirected output
// (the tests' writers) and --json get no progress at all: exactly the lines they got before live progress existed.
using System.Text.RegularExpressions;
using Spectre.Console.Testing;

namespace Pv.Cli.Tests;

public sealed class ProgressTests
{
    private static readonly string Config = Path.Combine(Fixtures.RepoRoot, "plugins.json");
    private static readonly string Zoo = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo");
    private static readonly string Z1Fixed = Path.Combine(Zoo, "z1-gup-fast-vs-munmap-fixed.pvl");
    private static readonly string Z1 = Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl");

    /// <summary>A console as a terminal is: interactive, emitting ANSI sequences, wide enough for the progress line.</summary>
    private static TestConsole Terminal() => new TestConsole().Interactive().EmitAnsiSequences().Width(160);

    /// <summary>pv <paramref name="args"/> with live progress drawn on <paramref name="live"/>.</summary>
    private static (int Exit, string Out, string Err) RunLive(TestConsole live, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run([.. args, "--config", Config], output, error, Path.GetTempPath(), CancellationToken.None, default, live);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void A_tally_drawn_live_shows_the_count_the_rate_the_time_left_and_what_was_found_so_far()
    {
        using var console = Terminal();
        var tally = new WorkTally(10_000, "schedules", ("violation", "violations"));
        int result = LiveProgress.Run(console, tally, "pct on xen-pv", clear: false, () =>
        {
            tally.Report(1_000, 0);
            Thread.Sleep(400);
            // Reports from several workers arrive out of order: the counts never go back.
            tally.Report(4_000, 1);
            tally.Report(3_000, 0);
            Thread.Sleep(400);
            return 42;
        });
        Assert.Equal(42, result);
        string drawn = console.Output;
        Assert.Contains("pct on xen-pv", drawn);
        Assert.Contains("40%", drawn);
        Assert.Matches(@"4,000/10,000 schedules · [\d,]+/s · ETA \d+:\d\d:\d\d · 1 violation", drawn);
        // Drawn in place: the cursor is moved back over the previous frame, not a new line per update.
        Assert.Contains("\u001b[", drawn);
        Assert.Equal(4_000, tally.Done);
        Assert.Equal("4,000 of 10,000 schedules done, 1 violation so far", tally.Summary);
    }

    [Fact]
    public void Once_Ctrl_C_was_pressed_the_live_line_says_the_work_in_flight_is_finishing()
    {
        using var console = Terminal();
        var tally = new WorkTally(40, "seed runs", ("seed run not clean", "seed runs not clean"));
        LiveProgress.Run(console, tally, "xen-pv-2012 vs xen-pv", clear: false, () =>
        {
            tally.Report(7, 2);
            tally.Stop();
            return 0;
        });
        // The last frame is drawn as the body ends, whenever the render thread last ran.
        Assert.Contains("7/40 seed runs · ", console.Output);
        Assert.Contains("finishing work in flight; Ctrl-C again: stop now", console.Output);
        Assert.Equal("7 of 40 seed runs done, 2 seed runs not clean so far", tally.Summary);
    }

    [Fact]
    public void Explore_on_a_terminal_draws_its_progress_and_prints_what_a_redirected_run_prints()
    {
        using var console = Terminal();
        string[] args = ["explore", Z1Fixed, "-n", "3000", "--db", Cli.Db()];
        var live = RunLive(console, args);
        var redirected = Cli.Run(Path.GetTempPath(), [.. args, "--config", Config]);
        Assert.Equal((PvExitCode.Ok, ""), (live.Exit, live.Err));
        Assert.Matches(@"3,000/3,000 schedules · [\d,-]+/s · done · 0 violations", console.Output);
        // The rate is the only thing two runs print differently.
        static string Steady(string text) => Regex.Replace(text, @"\([\d,]+ schedules/s\)", "(N schedules/s)");
        Assert.Equal(Steady(redirected.Out), Steady(live.Out));
    }

    [Fact]
    public void Ab_zoo_and_soak_on_a_terminal_draw_their_units_of_work()
    {
        using (var console = Terminal())
        {
            Assert.Equal(PvExitCode.Violation, RunLive(console, "ab", Z1, "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "2", "--schedules", "5", "--db", Cli.Db()).Exit);
            Assert.Matches(@"4/4 seed runs · [\d,-]+/s · done · \d seed runs? not clean", console.Output);
        }
        using (var console = Terminal())
        {
            Assert.Equal(PvExitCode.Ok, RunLive(console, "zoo", "--only", "z1-gup-fast-vs-munmap.pvl").Exit);
            Assert.Matches(@"1/1 entries · [\d,-]+/s · done · 0 entries not as expected", console.Output);
        }
        using (var console = Terminal())
        {
            string findings = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
            RunLive(console, "soak", "--scenarios", "2", "--schedules", "10", "--backend", "x86-native", "--out", findings);
            Assert.Matches(@"2/2 scenarios · [\d,-]+/s · done · \d+ findings?", console.Output);
        }
    }

    [Fact]
    public void Redirected_output_and_json_get_no_progress()
    {
        var (exit, output, error) = Cli.Run(Path.GetTempPath(), "explore", Z1Fixed, "-n", "2000", "--db", Cli.Db(), "--config", Config);
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        // Exactly the two lines of the result: no bar, no milestone lines, no escape sequences.
        Assert.Matches(@"^2,000 schedules, no violation \([\d,]+ schedules/s\)\r?\nverdict: clean \(expected clean\)\r?\n$", output);

        using var console = Terminal();
        var json = RunLive(console, "explore", Z1Fixed, "-n", "2000", "--db", Cli.Db(), "--json");
        Assert.Equal(PvExitCode.Ok, json.Exit);
        Assert.Equal("", console.Output);
        Assert.Equal("clean", System.Text.Json.JsonDocument.Parse(json.Out).RootElement.GetProperty("verdict").GetString());
    }
}
