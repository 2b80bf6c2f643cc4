// `pv` as a user runs it: PvApp.Run with captured writers for each command and exit code, and one run of
// the real built executable.
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pv.Abstractions;
using Pv.Cli;
using Pv.Hosting.Loading;

namespace Pv.Cli.Tests;

public sealed class PvAppTests
{
    private static (int Exit, string Out, string Err) RunIn(string currentDirectory, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run(args, output, error, currentDirectory);
        return (exit, output.ToString(), error.ToString());
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => RunIn(Fixtures.RepoRoot, args);

    [Fact]
    public void Repo_plugins_json_loads_every_real_backend_and_exit_0()
    {
        var (exit, output, error) = Run("plugins");
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        Assert.Contains($"plugins.json: {Path.Combine(Fixtures.RepoRoot, "plugins.json")}", output);
        Assert.Matches(@"│ Plugin\s+│ Version\s+│ Contract\s+│ Path\s+│ Hash\s+│ Backends\s+│ Status\s+│", output);
        Assert.Contains("xen-pv-2012 (x86)", output);
        Assert.Matches(@"(\d+) of \1 plugins loaded", output);
    }

    [Fact]
    public void Table_shows_each_plugin_and_lists_diagnostics_with_exit_2()
    {
        string hash = PluginHash.Compute(Fixtures.Plugin("Good"));
        string config = Fixtures.WriteConfig(
            Fixtures.PluginEntry("good", "Good", $$""", "sha256": "{{hash}}" """) + ", " + Fixtures.PluginEntry("broken", "CtorThrows"),
            """{ "name": "native-x86", "plugin": "good", "archProfile": "x86" }""");
        var (exit, output, _) = Run("plugins", "--config", config);

        Assert.Equal(PvExitCode.BadInput, exit);
        // The first row of "good" is the plugins table's; the declarations table follows it.
        var goodRow = output.Split('\n').First(l => l.Contains("│ good "));
        Assert.Matches(@"│ good\s+│ 2\.3\.4\s+│ " + Regex.Escape(PvContract.Version.ToString()) + @"\s+│ .*Pv\.Fixtures\.Good\.dll\s+│ pinned ok\s+│ native-x86 \(x86\)\s+│ loaded\s+│", goodRow);
        var brokenRow = output.Split('\n').Single(l => l.Contains("│ broken "));
        Assert.Matches(@"│ good\s+│ x86\s+│ archMmu\s+│ option\s+│", output);
        Assert.Matches(@"│ broken\s+│ -\s+│ -\s+│ .*Pv\.Fixtures\.CtorThrows\.dll\s+│ unpinned\s+│ -\s+│ FAILED\s+│", brokenRow);
        Assert.Contains("1 problem(s):", output);
        Assert.Contains($"{config}:", output);
        Assert.Contains("$.plugins[1]: plugin 'broken': constructor of Pv.Fixtures.CtorThrows.CtorThrowsPlugin threw InvalidOperationException", output);
    }

    [Fact]
    public void Backend_that_fails_to_compose_is_a_problem_naming_plugin_and_backend_with_exit_2()
    {
        string config = Fixtures.WriteConfig(
            Fixtures.PluginEntry("good", "Good") + ", " + Fixtures.PluginEntry("late", "ResolveThrows"),
            """{ "name": "native-x86", "plugin": "good", "archProfile": "x86" }, { "name": "late-x86", "plugin": "late", "archProfile": "x86" }""");
        var (exit, output, error) = Run("plugins", "--config", config);

        Assert.Equal((PvExitCode.BadInput, ""), (exit, error));
        Assert.Matches(@"│ good\s+│ 2\.3\.4\s+│ .*│ native-x86 \(x86\)\s+│ loaded\s+│", output);
        Assert.Matches(@"│ late\s+│ 1\.0\s+│ .*│ late-x86 \(x86\) FAILED\s+│ loaded\s+│", output);
        Assert.Contains("2 of 2 plugins loaded, 1 backends usable.", output);
        Assert.Contains("1 problem(s):", output);
        Assert.Contains("$.backends[1]: plugin 'late': backend 'late-x86': resolving the backend's services threw InvalidOperationException: resolve-throws fixture: no pv ops today", output);
    }

    [Fact]
    public void Json_output_carries_the_startup_check()
    {
        string config = Fixtures.WriteConfig(
            Fixtures.PluginEntry("good", "Good") + ", " + Fixtures.PluginEntry("late", "ResolveThrows"),
            """{ "name": "native-x86", "plugin": "good", "archProfile": "x86" }, { "name": "late-x86", "plugin": "late", "archProfile": "x86" }""");
        var (exit, output, _) = Run("plugins", "--config", config, "--json");

        Assert.Equal(PvExitCode.BadInput, exit);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal([("native-x86", "ok"), ("late-x86", "failed")],
            root.GetProperty("backends").EnumerateArray().Select(b => (b.GetProperty("name").GetString(), b.GetProperty("status").GetString())));
        var diagnostic = Assert.Single(root.GetProperty("diagnostics").EnumerateArray());
        Assert.Equal(("late", "late-x86", "$.backends[1]"),
            (diagnostic.GetProperty("plugin").GetString(), diagnostic.GetProperty("backend").GetString(), diagnostic.GetProperty("jsonPath").GetString()));
        Assert.StartsWith("resolving the backend's services threw InvalidOperationException", diagnostic.GetProperty("message").GetString());
    }

    [Fact]
    public void Hash_mismatch_is_shown()
    {
        string config = Fixtures.WriteConfig(Fixtures.PluginEntry("good", "Good", $$""", "sha256": "{{new string('a', 64)}}" """), "");
        var (exit, output, _) = Run("plugins", "--config", config);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Matches(@"│ good\s+│ -\s+│ -\s+│ .*│ MISMATCH\s+│ -\s+│ FAILED\s+│", output);
        Assert.Contains("SHA-256 mismatch", output);
    }

    [Fact]
    public void Json_output_carries_plugins_backends_and_diagnostics()
    {
        string config = Fixtures.WriteConfig(Fixtures.PluginEntry("good", "Good"),
            """{ "name": "native-x86", "plugin": "good", "archProfile": "x86" }, { "name": "bad", "plugin": "good", "archProfile": "s390" }""");
        var (exit, output, error) = Run("plugins", "--config", config, "--json");

        Assert.Equal((PvExitCode.BadInput, ""), (exit, error));
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(config, root.GetProperty("config").GetString());
        var plugin = Assert.Single(root.GetProperty("plugins").EnumerateArray());
        Assert.Equal("good", plugin.GetProperty("name").GetString());
        Assert.Equal("loaded", plugin.GetProperty("status").GetString());
        Assert.Equal("2.3.4", plugin.GetProperty("version").GetString());
        Assert.Equal(PvContract.Version.ToString(), plugin.GetProperty("contractVersion").GetString());
        Assert.Equal("unpinned", plugin.GetProperty("hash").GetString());
        Assert.Equal(PluginHash.Compute(Fixtures.Plugin("Good")), plugin.GetProperty("sha256").GetString());
        Assert.Equal(["x86", "arm64"], plugin.GetProperty("offers").EnumerateArray().Select(e => e.GetString()));
        var backend = Assert.Single(root.GetProperty("backends").EnumerateArray());
        Assert.Equal(("native-x86", "good", "x86"), (backend.GetProperty("name").GetString(), backend.GetProperty("plugin").GetString(), backend.GetProperty("archProfile").GetString()));
        Assert.Equal("ok", backend.GetProperty("status").GetString());
        var diagnostic = Assert.Single(root.GetProperty("diagnostics").EnumerateArray());
        Assert.Equal("$.backends[1].archProfile", diagnostic.GetProperty("jsonPath").GetString());
        Assert.Equal(3, diagnostic.GetProperty("line").GetInt32());
        Assert.Equal("bad", diagnostic.GetProperty("backend").GetString());
    }

    [Fact]
    public void Json_output_of_the_repo_config_has_no_diagnostics_and_exit_0()
    {
        var (exit, output, _) = Run("plugins", "--json");
        Assert.Equal(PvExitCode.Ok, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.True(doc.RootElement.GetProperty("plugins").GetArrayLength() > 0);
        Assert.All(doc.RootElement.GetProperty("backends").EnumerateArray(), b => Assert.Equal("ok", b.GetProperty("status").GetString()));
        Assert.Equal(0, doc.RootElement.GetProperty("diagnostics").GetArrayLength());
    }

    [Fact]
    public void Config_that_is_not_json_exits_2_with_line_and_column()
    {
        string config = Fixtures.WriteFile("plugins.json", "{\n  \"plugins\": [,]\n}");
        var (exit, output, _) = Run("plugins", "--config", config);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{config}:2:15: $: not valid JSON", output);
    }

    [Fact]
    public void Missing_config_file_exits_2()
    {
        var (exit, output, _) = Run("plugins", "--config", "no/such/plugins.json");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{Path.Combine(Fixtures.RepoRoot, "no", "such", "plugins.json")}: $: cannot read plugins.json: file not found", output);
    }

    [Fact]
    public void Default_config_is_found_in_the_current_directory_first()
    {
        string config = Fixtures.WriteConfig(Fixtures.PluginEntry("good", "Good"), "");
        var (exit, output, _) = RunIn(Path.GetDirectoryName(config)!, "plugins");
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains($"plugins.json: {config}", output);
    }

    [Fact]
    public void Default_config_is_found_at_the_repo_root_from_a_subfolder()
    {
        var (exit, output, _) = RunIn(Path.Combine(Fixtures.RepoRoot, "core", "Pv.Hosting"), "plugins");
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains($"plugins.json: {Path.Combine(Fixtures.RepoRoot, "plugins.json")}", output);
    }

    [Fact]
    public void No_default_config_exits_2_with_advice()
    {
        string empty = Path.GetDirectoryName(Fixtures.WriteFile("readme.txt", ""))!;
        var (exit, _, error) = RunIn(empty, "plugins");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains("no plugins.json", error);
        Assert.Contains("--config", error);
    }

    [Fact]
    public void Version_prints_pv_version()
    {
        var (exit, output, _) = Run("--version");
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.StartsWith(typeof(PvApp).Assembly.GetName().Version!.ToString(3), output);
        Assert.Equal(PvApp.Version, output.Split('\n')[0].Trim());
    }

    [Fact]
    public void Help_lists_the_plugins_command()
    {
        var (exit, output, _) = Run("--help");
        Assert.Equal(PvExitCode.Ok, exit);
        Assert.Contains("plugins", output);
        Assert.Contains("Usage:", output);
    }

    [Theory]
    [InlineData("plugins", "--bogus")]
    [InlineData("frobnicate")]
    public void Usage_errors_exit_2(params string[] args)
    {
        var (exit, _, error) = Run(args);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.StartsWith("pv: ", error);
        Assert.Contains("pv --help", error);
    }

    [Fact]
    public void Real_executable_lists_the_repo_plugins()
    {
        string pv = Path.Combine(Fixtures.RepoRoot, "hosts", "Pv.Cli", "bin", Fixtures.Configuration, "net10.0", "pv.dll");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = Fixtures.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { pv, "plugins" }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "pv did not exit within 60 s");
        Assert.Equal((PvExitCode.Ok, ""), (process.ExitCode, error));
        Assert.Contains("backends usable.", output);
        Assert.Contains("x86-native", output);
    }
}
