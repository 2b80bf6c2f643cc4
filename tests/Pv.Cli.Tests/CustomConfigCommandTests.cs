// A plugin author's own plugins.json, used from a folder outside the repository: `pv zoo` runs the zoo built
// with pv, runs the entries whose backends that config offers and lists the others as skipped (never as errors),
// refuses a --backend the config lacks and a zoo with nothing left to run (exit 2); the replay command a search
// prints carries the --config it needs; `--expect` overrides a scenario's expect line.
using Pv.Cli;
using Pv.Engine;
using Pv.Testing;

namespace Pv.Cli.Tests;

public sealed class CustomConfigCommandTests
{
    private static readonly string Native = Path.Combine(Fixtures.RepoRoot, "artifacts", "plugins", "Pv.Plugins.Native", "Pv.Plugins.Native.dll");

    /// <summary>plugins.json in a temporary folder offering one backend, x86-native.</summary>
    private static readonly Lazy<string> Config = new(() => Fixtures.WriteConfig(
        $$"""{ "name": "native", "path": {{Fixtures.Json(Native)}} }""",
        """{ "name": "x86-native", "plugin": "native", "archProfile": "x86" }"""));

    private static string Zoo(string name) => Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name);

    private static string Db() => Cli.Db();

    /// <summary>pv in a folder outside the repository, with the one-backend plugins.json.</summary>
    private static (int Exit, string Out, string Err) Run(params string[] args) => Cli.Run(Path.GetTempPath(), [.. args, "--config", Config.Value]);

    /// <summary>A zoo folder holding copies of the named entries.</summary>
    private static string ZooFolder(params string[] entries)
    {
        string folder = Path.GetDirectoryName(Fixtures.WriteFile("README", ""))!;
        foreach (var e in entries) File.Copy(Zoo(e), Path.Combine(folder, e));
        return folder;
    }

    [Fact]
    public void The_zoo_runs_the_entries_on_the_config_s_backends_and_lists_the_others_as_skipped()
    {
        var (exit, output, error) = Run("zoo", "--dir", ZooFolder("z9-nested-flush-dontneed-race.pvl", "z1-gup-fast-vs-munmap.pvl", "z1-gup-fast-vs-munmap-fixed.pvl"));
        Assert.True(exit == PvExitCode.Ok, error);
        Assert.Contains("z9-nested-flush-dontneed-race", output);
        Assert.DoesNotContain("│ z1-", output);
        Assert.Contains("1 of 1 entries as expected", output);
        Assert.Contains($"skipped, not offered by {Config.Value}: xen-pv (1 entry), xen-pv-2012 (1 entry)", output);
    }

    [Fact]
    public void Without_dir_outside_the_repository_the_zoo_built_with_pv_runs()
    {
        var (exit, output, error) = Run("zoo", "--only", "z9-nested-flush-dontneed-race.pvl");
        Assert.True(exit == PvExitCode.Ok, error);
        Assert.Contains("1 of 1 entries as expected", output);
    }

    [Fact]
    public void A_backend_the_config_lacks_is_exit_2_naming_what_it_offers()
    {
        var (exit, _, error) = Run("zoo", "--backend", "xen-pv");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"--backend xen-pv: {Config.Value} has no usable backend 'xen-pv'; usable: x86-native", error);
    }

    [Fact]
    public void A_zoo_with_nothing_left_to_run_is_exit_2_naming_what_was_skipped()
    {
        var (exit, _, error) = Run("zoo", "--dir", ZooFolder("z1-gup-fast-vs-munmap.pvl"));
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"no zoo entry runs on the backends of {Config.Value}: xen-pv-2012 (1 entry)", error);
    }

    [Fact]
    public void The_replay_command_a_search_prints_carries_the_config_and_works_as_printed()
    {
        string cx = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json");
        var (exit, output, _) = Run("explore", Zoo("z9-nested-flush-dontneed-race.pvl"), "--out", cx, "--db", Db());
        Assert.Equal(PvExitCode.Ok, exit);   // Z9 with the fix off expects the O3 it finds
        string printed = $"pv replay {cx} --config {Config.Value}";
        Assert.Contains($"replay it: {printed}", output);
        // The printed words, run from another folder, load the same plugins.json and reproduce the violation.
        var replay = new StringWriter();
        Assert.Equal(PvExitCode.Ok, PvApp.Run(printed.Split(' ')[1..], replay, new StringWriter(), Fixtures.RepoRoot));
        Assert.Contains("entries involved:", replay.ToString());
    }

    [Fact]
    public void Expect_overrides_the_scenario_s_expect_line_and_refuses_what_a_search_cannot_end_in()
    {
        var (_, output, _) = Run("run", Zoo("z9-nested-flush-dontneed-race-fixed.pvl"), "--expect", "O3", "--db", Db());
        Assert.Contains("verdict: clean (expected O3) — NOT AS EXPECTED", output);
        var (exit, _, error) = Run("explore", Zoo("z9-nested-flush-dontneed-race-fixed.pvl"), "--expect", "deadlock", "--db", Db());
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains("--expect deadlock: expected clean or an invariant O1..O7", error);
    }
}
