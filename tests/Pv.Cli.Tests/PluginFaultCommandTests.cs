// The exit-code contract and plugin fault containment as a user meets them, through the real commands: a plugin
// whose flush_tlb_multi throws gives exit 4 from run, explore, ab and soak with the plugin, the backend and the
// operation named (ab still prints the other side, soak goes on with the other backend), the same seed faults the same way, a plugin that loops
// forever is stopped by --time-limit (the real executable: a hung call ends the process) with exit 4, a
// --time-limit outside plugin code stops a search with exit 130 and says how to resume, `zoo --isolate` names an
// entry whose process a stack overflow killed and runs the others, plugins.json with a
// problem is exit 2 for every command, an operation the kernel refuses is exit 2 at its line, and the mapping
// sends anything unexpected to exit 3 as a bug in Pv.
using System.Diagnostics;
using Pv.Cli;
using Pv.Engine;
using Pv.Hosting.Composition;

namespace Pv.Cli.Tests;

public sealed class PluginFaultCommandTests
{
    private static readonly string Native = Path.Combine(Fixtures.RepoRoot, "artifacts", "plugins", "Pv.Plugins.Native", "Pv.Plugins.Native.dll");

    /// <summary>plugins.json with the faulty fixture (throw, loop) and the real native x86 backend.</summary>
    private static readonly Lazy<string> Config = new(() => Fixtures.WriteConfig(
        Fixtures.PluginEntry("faulty", "Faulty") + $$""", { "name": "native", "path": {{Fixtures.Json(Native)}} }""",
        """
        { "name": "faulty-throw", "plugin": "faulty", "archProfile": "x86", "options": { "fault": "throw" } },
        { "name": "faulty-loop", "plugin": "faulty", "archProfile": "x86", "options": { "fault": "loop" } },
        { "name": "faulty-overflow", "plugin": "faulty", "archProfile": "x86", "options": { "fault": "overflow" } },
        { "name": "x86-native", "plugin": "native", "archProfile": "x86" }
        """));

    /// <summary>munmap on CPU0 while CPU1 runs the mm: the flush goes through flush_tlb_multi.</summary>
    private static readonly Lazy<string> Scenario = new(() => Fixtures.WriteFile("unmap.pvl", """
        backend faulty-throw
        cpus 2
        expect clean
        explore pct schedules 50

        mm proc
          vma 0x40000000 8K rw
          populate 0x40000000 8K

        thread unmapper cpu 0 mm proc
          munmap 0x40000000 8K
        thread reader cpu 1 mm proc
          read 0x40000000
        """));

    private static string Db() => Cli.Db();

    private static (int Exit, string Out, string Err) Run(params string[] args) => Cli.Run(Path.GetTempPath(), [.. args, "--config", Config.Value]);

    private const string Named = "pv: plugin fault (a bug in plugin 'faulty', not in Pv or the scenario): backend 'faulty-throw': " +
        "flush_tlb_multi threw InvalidOperationException: faulty fixture: flush_tlb_multi failed on purpose; at step ";

    [Fact]
    public void Run_with_a_throwing_flush_is_exit_4_naming_plugin_backend_operation_and_exception()
    {
        var (exit, _, error) = Run("run", Scenario.Value, "--db", Db());
        Assert.Equal(PvExitCode.PluginFault, exit);
        Assert.Contains(Named, error);
        Assert.Contains("schedule so far: ", error);
        Assert.Contains("pv: the plugin's exception: System.InvalidOperationException: faulty fixture", error);
        Assert.DoesNotContain("internal error", error);
    }

    [Fact]
    public void The_same_seed_reproduces_the_same_fault()
    {
        var first = Run("run", Scenario.Value, "--seed", "7", "--db", Db());
        var second = Run("run", Scenario.Value, "--seed", "7", "--db", Db());
        Assert.Equal(PvExitCode.PluginFault, first.Exit);
        Assert.Equal(first.Err.Split('\n')[0], second.Err.Split('\n')[0]);
    }

    [Fact]
    public void Explore_with_a_throwing_flush_is_exit_4()
    {
        var (exit, output, error) = Run("explore", Scenario.Value, "--db", Db(), "--out", Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".cx.json"));
        Assert.Equal((PvExitCode.PluginFault, ""), (exit, output));
        Assert.Contains(Named, error);
    }

    [Fact]
    public void Ab_prints_the_fault_naming_the_side_and_the_other_sides_results()
    {
        var (exit, output, error) = Run("ab", Scenario.Value, "--a", "faulty-throw", "--b", "x86-native", "--seeds", "2", "--schedules", "5", "--db", Db());
        Assert.Equal(PvExitCode.PluginFault, exit);
        Assert.Contains("  A faulty-throw: PLUGIN FAULT in seed 0 (flush_tlb_multi threw InvalidOperationException: faulty fixture: flush_tlb_multi failed on purpose)", output);
        Assert.Contains("  B x86-native: clean in 2/2 seeds", output);
        Assert.Contains("B x86-native", output.Split('\n').Single(l => l.Contains("Metric (mean per run)")));
        Assert.Contains("pvops.flush_tlb_multi", output);
        Assert.Contains(Named, error);
    }

    [Fact]
    public void Soak_lists_the_fault_and_goes_on_with_the_other_backend()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        var (exit, output, _) = Run("soak", "--scenarios", "2", "--schedules", "5", "--backend", "faulty-throw", "--backend", "x86-native", "--out", dir);
        Assert.Equal(PvExitCode.PluginFault, exit);
        Assert.Contains("plugin-fault on faulty-throw (pct, seed 0): plugin 'faulty', backend 'faulty-throw': flush_tlb_multi threw", output);
        Assert.Matches(@"│ x86-native\s+│ [1-9]", output);
    }

    [Fact]
    public async Task A_plugin_that_never_returns_is_stopped_by_the_time_limit_with_exit_4_naming_the_call()
    {
        string pv = Path.Combine(Fixtures.RepoRoot, "hosts", "Pv.Cli", "bin", Fixtures.Configuration, "net10.0", "pv.dll");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetTempPath(), RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { pv, "explore", Scenario.Value, "--backend", "faulty-loop", "--time-limit", "5", "--config", Config.Value, "--db", Db() })
            start.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = await process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "pv did not exit within 60 s");
        Assert.Equal(PvExitCode.PluginFault, process.ExitCode);
        Assert.Contains("pv: plugin fault (a bug in plugin 'faulty', not in Pv or the scenario): backend 'faulty-loop': flush_tlb_multi did not return within the time limit of 5 s", error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal("", await output);
    }

    [Fact]
    public void Zoo_isolate_reports_an_entry_whose_process_died_by_name_and_runs_the_others()
    {
        // A stack overflow ends a .NET process: only a child per entry lets the sweep name it and go on.
        string dir = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "a-overflow.pvl"), File.ReadAllText(Scenario.Value).Replace("backend faulty-throw", "backend faulty-overflow"));
        File.WriteAllText(Path.Combine(dir, "b-native.pvl"), File.ReadAllText(Scenario.Value).Replace("backend faulty-throw", "backend x86-native"));
        var (exit, output, _) = Run("zoo", "--dir", dir, "--isolate");
        Assert.Equal(PvExitCode.PluginFault, exit);
        Assert.Matches(@"│ a-overflow\s+│ faulty-overflow\s+│ \?\s+│ crashed", output);
        Assert.Matches(@"│ b-native\s+│ x86-native\s+│ clean\s+│ clean\s+│", output);
        Assert.Contains("the process running a-overflow.pvl on faulty-overflow died (exit 134; a stack overflow in plugin code ends a .NET process): Stack overflow. (at Pv.Fixtures.Faulty.FaultyPvMmuOps.Recurse(Int32))", output);
        Assert.Contains("1 of 2 entries as expected", output);
    }

    [Fact]
    public void A_time_limit_outside_plugin_code_stops_a_search_with_exit_130_and_says_how_to_resume()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        string z1 = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap-fixed.pvl");
        int exit = PvApp.Run(["explore", z1, "--schedules", "100000000", "--time-limit", "1", "--db", Db(), "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json")],
            output, error, Path.GetTempPath());
        Assert.Equal(PvExitCode.Interrupted, exit);
        // What completed (the chunks stored, not the one the stop cut short) and the user's command with --resume.
        Assert.Matches(@"^pv: stopped: the time limit of 1 s was reached; [\d,]+ of 100,000,000 schedules done, 0 violations so far; the store holds every finished chunk of schedules\r?\n" +
            @"pv: to go on: pv explore \S+ --schedules 100000000 --time-limit 1 --db \S+ --config \S+ --resume\r?\n$", error.ToString());
    }

    [Theory]
    [InlineData("run")]
    [InlineData("explore")]
    [InlineData("ab")]
    public void A_plugins_json_with_a_problem_is_exit_2_for_the_scenario_commands(string command)
    {
        string config = Fixtures.WriteConfig(Fixtures.PluginEntry("faulty", "Faulty"),
            """{ "name": "faulty-ok", "plugin": "faulty", "archProfile": "x86" }, { "name": "ghost", "plugin": "nobody", "archProfile": "x86" }""");
        string[] args = command == "ab" ? ["ab", Scenario.Value, "--a", "faulty-ok", "--b", "faulty-ok"] : [command, Scenario.Value, "--backend", "faulty-ok"];
        var error = new StringWriter();
        int exit = PvApp.Run([.. args, "--config", config, "--db", Db()], new StringWriter(), error, Path.GetTempPath());
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains("$.backends[1].plugin: backend 'ghost': unknown plugin 'nobody'", error.ToString());
    }

    [Fact]
    public void An_operation_the_kernel_refuses_is_exit_2_at_its_line()
    {
        string path = Fixtures.WriteFile("irq.pvl", "backend x86-native\nmm a\n  vma 0x1000 4K rw\nthread t cpu 0 mm a\n  irq-on\n");
        var error = new StringWriter();
        int exit = PvApp.Run(["run", path, "--db", Db(), "--config", Config.Value], new StringWriter(), error, Path.GetTempPath());
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Equal($"pv: {path}:5:3: t: an operation of the scenario cannot run: cpu0: local_irq_enable with IRQs on (irq-on without an irq-off before it)" + Environment.NewLine, error.ToString());
    }

    [Fact]
    public void The_mapping_gives_each_failure_its_code_by_who_raised_it()
    {
        var error = new StringWriter();
        Assert.Equal(PvExitCode.InternalError, PvExitCode.For(new InvalidOperationException("surprise"), error, ""));
        Assert.Contains("pv: internal error (a bug in Pv, not in the scenario or a plugin; please report it with the command line): System.InvalidOperationException: surprise", error.ToString());
        Assert.Equal(PvExitCode.InternalError, PvExitCode.For(new KeyNotFoundException("k"), new StringWriter(), ""));
        Assert.Equal(PvExitCode.InternalError, PvExitCode.For(new ArgumentException("a"), new StringWriter(), ""));
        Assert.Equal(PvExitCode.BadInput, PvExitCode.For(new PvInputException("f.pvl:1:1: bad"), new StringWriter(), ""));
        Assert.Equal(PvExitCode.PluginFault, PvExitCode.For(new PluginFaultException("p", "b", "flush_tlb_multi", new InvalidOperationException(), [0, 1], "t"), new StringWriter(), ""));
        Assert.Equal(PvExitCode.Interrupted, PvExitCode.For(new RunStoppedException("interrupted (Ctrl-C)"), new StringWriter(), "nothing was saved"));
        Assert.Equal(PvExitCode.InternalError, PvExitCode.Worst([PvExitCode.Violation, PvExitCode.PluginFault, PvExitCode.InternalError]));
        Assert.Equal(PvExitCode.PluginFault, PvExitCode.Worst([PvExitCode.Violation, PvExitCode.PluginFault, PvExitCode.BadInput]));
        Assert.Equal(PvExitCode.Ok, PvExitCode.Worst([]));
    }
}
