// The scenario commands as a user runs them: exit codes (0 as expected, 1 not, 2 bad input with file:line:column),
// explore writing a counterexample that replay reproduces, JSON output, the zoo, A/B with a report, history.
using System.Text.Json;
using Pv.Cli;

namespace Pv.Cli.Tests;

public sealed class ScenarioCommandTests
{
    private static readonly string Zoo = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo");

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run([.. args, "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json")], output, error, Path.GetTempPath());
        return (exit, output.ToString(), error.ToString());
    }

    private static string Db() => Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".db");

    [Fact]
    public void Run_reports_verdict_and_metrics_with_exit_0()
    {
        var (exit, output, _) = Run("run", Path.Combine(Zoo, "z1-gup-fast-vs-munmap-fixed.pvl"), "--db", Db());
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains("verdict: clean (expected clean)", output);
        Assert.Contains("simulated time:", output);
    }

    [Fact]
    public void Bad_scenario_is_exit_2_with_file_line_and_column()
    {
        string path = Fixtures.WriteFile("bad.pvl", "backend xen-pv\nmm a\n  vma 0x1000 4K rw\nthread t cpu 5 mm a\n  fly 0x1000\n");
        var (exit, _, error) = Run("run", path, "--db", Db());
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{path}:4:14: CPU index 5 is out of range", error);
        Assert.Contains($"{path}:5:3: unknown operation 'fly'", error);
    }

    [Fact]
    public void A_hardware_scenario_run_on_uml_is_exit_2_at_its_first_hardware_line()
    {
        // Without an mmu line the backend's model is the scenario's: its populate would be an O6 before anything ran.
        string path = Path.Combine(Zoo, "z1-gup-fast-vs-munmap-fixed.pvl");
        var (exit, output, error) = Run("run", path, "--backend", "uml", "--db", Db());
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.DoesNotContain("verdict", output);
        Assert.Contains($"{path}:13:3: backend 'uml' (from --backend) translates through host mappings (User-Mode Linux: no hardware TLB): 'populate' writes PTEs", error);
        Assert.Contains($"{path}:17:19: backend 'uml' (from --backend) translates through host mappings (User-Mode Linux: no hardware TLB): thread 'walker' runs on CPU 1", error);
    }

    [Fact]
    public void A_uml_entry_expecting_O6_on_a_hardware_backend_is_exit_2_unless_told_to_expect_another_verdict()
    {
        // O6 is about host mappings: no search on a hardware MMU can end in it. --expect replaces the line before binding.
        string path = Path.Combine(Zoo, "z4-uml-missing-sync-mark.pvl");
        var (exit, _, error) = Run("run", path, "--backend", "x86-native", "--db", Db());
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{path}:7:8: backend 'x86-native' (from --backend) has a hardware MMU: O6 (host mapping divergence) breaks only", error);
        var (again, output, _) = Run("run", path, "--backend", "x86-native", "--expect", "clean", "--db", Db());
        Assert.Equal(PvExitCode.Ok, again);
        Assert.Contains("verdict: clean (expected clean)", output);
    }

    [Fact]
    public void Explore_writes_a_counterexample_that_replay_reproduces()
    {
        string cx = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json");
        var (exit, output, _) = Run("explore", Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl"), "--out", cx, "--db", Db());
        Assert.Equal(PvExitCode.Ok, exit);   // Z1 expects the O2 it finds
        Assert.Contains($"replay it: pv replay {cx}", output);
        var (rexit, replay, _) = Run("replay", cx);
        Assert.Equal(PvExitCode.Ok, rexit);
        Assert.Contains("entries involved:", replay);
        Assert.Contains("invariant broke at step", replay);
        Assert.Contains("O2 freed page-table walk", replay);
    }

    [Fact]
    public void Replay_of_a_counterexample_whose_omissions_name_nothing_of_the_scenario_is_exit_2_at_the_field()
    {
        string cx = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json");
        Assert.Equal(PvExitCode.Ok, Run("explore", Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl"), "--out", cx, "--db", Db(), "--no-minimise").Exit);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(cx))!;
        json["omitThreads"] = new System.Text.Json.Nodes.JsonArray("walker", "nobody");
        File.WriteAllText(cx, json.ToJsonString());
        var (exit, _, error) = Run("replay", cx);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{cx}: $.omitThreads[1]: the scenario has no thread 'nobody'", error);
        json["omitThreads"] = new System.Text.Json.Nodes.JsonArray();
        json["omitOps"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["thread"] = "walker", ["op"] = 99 });
        File.WriteAllText(cx, json.ToJsonString());
        Assert.Contains($"{cx}: $.omitOps[0]: the scenario has no operation 99 of thread 'walker'", Run("replay", cx).Err);
    }

    [Fact]
    public void Explore_resume_of_a_search_that_found_a_violation_names_it_and_judges_it_as_the_search_did()
    {
        string db = Db(), cx = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json");
        string z1 = Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl");
        Assert.Equal(PvExitCode.Ok, Run("explore", z1, "--out", cx, "--db", db, "--no-minimise").Exit);
        // Another expectation of the same search (--expect is not part of its key): the stored O2 is now not as expected.
        Assert.Equal(PvExitCode.Violation, Run("explore", z1, "--out", cx, "--db", db, "--no-minimise", "--resume", "--expect", "clean").Exit);
        var (exit, output, error) = Run("explore", z1, "--out", cx, "--db", db, "--no-minimise", "--resume");
        Assert.Equal((PvExitCode.Ok, ""), (exit, output));
        Assert.Equal($"pv: this search already found O2 in the chunk from seed 0 (counterexample: {cx}); run without --resume to search again" + Environment.NewLine, error);
    }

    [Fact]
    public void Ab_resume_reuses_the_stored_seeds_and_prints_the_same_verdicts()
    {
        string db = Db();
        string[] args = ["ab", Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl"), "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "3", "--schedules", "20", "--db", db];
        var first = Run(args);
        var resumed = Run([.. args, "--resume"]);
        Assert.Equal(PvExitCode.Violation, first.Exit);
        Assert.Equal(first, resumed);
        Assert.Contains("  A xen-pv-2012: O2 in 3/3 seeds", resumed.Out);
        Assert.Contains("  B xen-pv: clean in 3/3 seeds", resumed.Out);
    }

    [Fact]
    public void Ab_json_puts_verdicts_first_and_writes_the_report()
    {
        string html = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".html");
        var (exit, output, _) = Run("ab", Path.Combine(Zoo, "z1-gup-fast-vs-munmap.pvl"), "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "4", "--schedules", "20", "--json", "--report", html, "--db", Db());
        Assert.Equal(PvExitCode.Violation, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("O2 in 4/4 seeds", doc.RootElement.GetProperty("verdicts").GetProperty("a").GetString());
        Assert.Equal("clean in 4/4 seeds", doc.RootElement.GetProperty("verdicts").GetProperty("b").GetString());
        string report = File.ReadAllText(html);
        Assert.Contains("<svg", report);
        Assert.DoesNotContain("<script", report);
    }

    [Fact]
    public void History_lists_stored_runs()
    {
        string db = Db();
        Run("run", Path.Combine(Zoo, "z3-pfnmap-unmap-mapping-range-fixed.pvl"), "--db", db);
        var output = new StringWriter();
        int exit = PvApp.Run(["history", "--db", db], output, new StringWriter(), Path.GetTempPath());
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains("x86-native", output.ToString());
        Assert.Contains("1 run(s)", output.ToString());
    }
    [Fact]
    public void Soak_reports_counts_as_json_and_exits_0_or_1()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        var (exit, output, _) = Run("soak", "--scenarios", "2", "--schedules", "10", "--backend", "x86-native", "--out", dir, "--json");
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("scenarios").GetInt32());
        Assert.True(root.GetProperty("schedules").GetInt64() > 0);
        Assert.Equal(root.GetProperty("findings").GetArrayLength() > 0 ? PvExitCode.Violation : PvExitCode.Ok, exit);
    }

    [Theory]
    [InlineData("--option", "no-such-toggle=off", "unknown option 'no-such-toggle'")]
    [InlineData("--option", "pfnmap-force-flush", "expected NAME=on or NAME=off")]
    [InlineData("--backend", "no-such-backend", "unknown backend 'no-such-backend'")]
    [InlineData("--backend", "arm64-smmu-v6.6", "is a secondary MMU")]
    public void Soak_bad_usage_is_exit_2(string flag, string value, string message)
    {
        var (exit, _, error) = Run("soak", "--scenarios", "1", "--schedules", "1", flag, value);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains(message, error);
    }
}
