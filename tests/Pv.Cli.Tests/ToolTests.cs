// pv as the installed tool (pvsim) meets a user, through the real CLI with the places ConfigLocator looks in chosen
// by the test (temporary folders for the current directory, the user's config folder and the tool's own folder, never
// the process environment): plugins.json is taken from the current directory, then the Pv repository above it, then
// the user's config folder, then the tool's own, and a message with none found names every place; the zoo is the
// one beside that plugins.json, else the repository's, else the tool's; `pv` alone prints the help (exit 0);
// `--version` prints pv's version and the plugins the default plugins.json loads, and exits 0 even when there is none
// or it is broken. eng/tool-check does the same with the packed and installed tool.
using Pv.Cli;
using Pv.Testing;

namespace Pv.Cli.Tests;

public sealed class ToolTests
{
    private static readonly string Native = Path.Combine(Fixtures.RepoRoot, "artifacts", "plugins", "Pv.Plugins.Native", "Pv.Plugins.Native.dll");

    /// <summary>A plugins.json offering x86-native (its plugin by absolute path, so any folder can hold it).</summary>
    private const string NativeConfig = """
        {
          "plugins": [ { "name": "native", "path": PATH } ],
          "backends": [ { "name": "x86-native", "plugin": "native", "archProfile": "x86" } ]
        }
        """;

    /// <summary>A fresh empty temporary folder (outside the repository).</summary>
    private static string Folder() => Path.GetDirectoryName(Fixtures.WriteFile("README", ""))!;

    /// <summary>Writes the x86-native plugins.json into <paramref name="folder"/> and returns its path.</summary>
    private static string WriteConfig(string folder)
    {
        string path = Path.Combine(folder, "plugins.json");
        File.WriteAllText(path, NativeConfig.Replace("PATH", Fixtures.Json(Native)));
        return path;
    }

    /// <summary>The folders of one run: where pv runs, the user's config folder, the tool's folder (all empty).</summary>
    private sealed record Places(string Cwd, string User, string Tool)
    {
        public static Places Fresh() => new(Folder(), Folder(), Folder());

        public (int Exit, string Out, string Err) Run(params string[] args)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int exit = PvApp.Run(args, output, error, new ConfigLocator(Cwd, User, Tool));
            return (exit, output.ToString(), error.ToString());
        }

        /// <summary>The plugins.json `pv plugins` loaded (its first line).</summary>
        public string Loaded()
        {
            var (exit, output, error) = Run("plugins");
            Assert.True(exit == PvExitCode.Ok, error);
            return output.Split('\n')[0].Trim();
        }
    }

    [Fact]
    public void Config_is_looked_for_in_the_current_directory_then_the_user_s_folder_then_the_tool_s()
    {
        var places = Places.Fresh();
        string cwd = WriteConfig(places.Cwd), user = WriteConfig(places.User), tool = WriteConfig(places.Tool);
        Assert.Equal($"plugins.json: {cwd}", places.Loaded());
        File.Delete(cwd);
        Assert.Equal($"plugins.json: {user}", places.Loaded());
        File.Delete(user);
        Assert.Equal($"plugins.json: {tool}", places.Loaded());
        File.Delete(tool);

        var (exit, _, error) = places.Run("plugins");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Equal(
            $"pv: no plugins.json found; looked for {cwd}, the root of a Pv repository above it (none), {user}, {tool}; pass --config FILE",
            error.Trim());
        // The scenario commands say the same.
        Assert.Contains($"looked for {cwd}, the root of a Pv repository above it (none), {user}, {tool}", places.Run("zoo").Err);
    }

    [Fact]
    public void In_a_Pv_repository_its_plugins_json_comes_before_the_user_s_and_the_tool_s()
    {
        var places = Places.Fresh() with { Cwd = Path.Combine(Fixtures.RepoRoot, "core", "Pv.Hosting") };
        WriteConfig(places.User);
        WriteConfig(places.Tool);
        Assert.Equal($"plugins.json: {Path.Combine(Fixtures.RepoRoot, "plugins.json")}", places.Loaded());
    }

    [Theory]
    [InlineData("/xdg", "/home/u", "/xdg/pv")]
    [InlineData(null, "/home/u", "/home/u/.config/pv")]
    [InlineData("", "/home/u", "/home/u/.config/pv")]
    [InlineData("relative/xdg", "/home/u", "/home/u/.config/pv")]
    [InlineData(null, null, null)]
    public void The_user_s_config_folder_is_XDG_CONFIG_HOME_pv_else_dot_config_pv(string? xdg, string? home, string? expected) =>
        Assert.Equal(expected, ConfigLocator.UserConfigDirectoryOf(xdg, home));

    [Fact]
    public void The_tool_s_own_zoo_runs_when_its_plugins_json_is_the_one_found()
    {
        var places = Places.Fresh();
        WriteConfig(places.Tool);
        string zoo = Path.Combine(places.Tool, "scenarios", "zoo");
        Directory.CreateDirectory(zoo);
        foreach (var entry in new[] { "z9-nested-flush-dontneed-race.pvl", "z9-nested-flush-dontneed-race-fixed.pvl" })
            File.Copy(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", entry), Path.Combine(zoo, entry));

        var (exit, output, error) = places.Run("zoo");
        Assert.True(exit == PvExitCode.Ok, error);
        Assert.Contains("2 of 2 entries as expected", output);
    }

    [Fact]
    public void Without_a_zoo_beside_plugins_json_the_repository_s_zoo_comes_before_the_tool_s()
    {
        // --only of no entry names the folder it looked in: the repository's, from a subfolder of it.
        var places = Places.Fresh() with { Cwd = Path.Combine(Fixtures.RepoRoot, "docs") };
        Directory.CreateDirectory(Path.Combine(places.Tool, "scenarios", "zoo"));
        string config = WriteConfig(Folder());
        var (exit, _, error) = places.Run("zoo", "--config", config, "--only", "none.pvl");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"--only none.pvl: no such entry in {Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo")}", error);

        // Outside the repository: the tool's.
        (exit, _, error) = (places with { Cwd = Folder() }).Run("zoo", "--config", config, "--only", "none.pvl");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"no such entry in {Path.Combine(places.Tool, "scenarios", "zoo")}", error);

        // None at all: every place is named.
        Directory.Delete(Path.Combine(places.Tool, "scenarios"), recursive: true);
        (exit, _, error) = (places with { Cwd = Folder() }).Run("zoo", "--config", config);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"no zoo folder; looked for {Path.Combine(Path.GetDirectoryName(config)!, "scenarios", "zoo")}, {Path.Combine(places.Tool, "scenarios", "zoo")}; pass --dir", error);
    }

    [Fact]
    public void Pv_alone_prints_the_help_and_exits_0()
    {
        var (exit, output, error) = Places.Fresh().Run();
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        Assert.Contains("Usage:", output);
        Assert.Contains("zoo", output);
    }

    [Fact]
    public void An_unknown_command_still_exits_2()
    {
        var (exit, _, error) = Places.Fresh().Run("frobnicate");
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains("'frobnicate'", error);
    }

    [Fact]
    public void Version_prints_pv_s_version_then_the_plugins_the_default_config_loads()
    {
        var (exit, output, error) = (Places.Fresh() with { Cwd = Fixtures.RepoRoot }).Run("--version");
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        var lines = output.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal(PvApp.Version, lines[0]);
        Assert.Equal($"plugins.json: {Path.Combine(Fixtures.RepoRoot, "plugins.json")}", lines[1]);
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^  xen \d+\.\d+\S*: xen-pv, xen-pv-2012$"));
        Assert.Contains(lines, l => l.StartsWith("  native ", StringComparison.Ordinal) && l.Contains("x86-native, "));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^  hyperv \d+\.\d+\S*: hyperv, hyperv-4.14, hyperv-4.13$"));
        Assert.Equal(5, lines.Count(l => l.StartsWith("  ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Version_says_when_there_is_no_config_and_exits_0()
    {
        var places = Places.Fresh();
        var (exit, output, error) = places.Run("--version");
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        Assert.Equal(
            [PvApp.Version, $"plugins: none (no plugins.json found; looked for {Path.Combine(places.Cwd, "plugins.json")}, the root of a Pv repository above it (none), {Path.Combine(places.User, "plugins.json")}, {Path.Combine(places.Tool, "plugins.json")}; pass --config FILE)"],
            output.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Version_says_in_one_line_that_the_config_is_broken_and_exits_0()
    {
        var places = Places.Fresh();
        File.WriteAllText(Path.Combine(places.User, "plugins.json"), """{ "plugins": [ { "name": "gone", "path": "nowhere/Gone.dll" } ], "backends": [] }""");
        var (exit, output, error) = places.Run("--version");
        Assert.Equal((PvExitCode.Ok, ""), (exit, error));
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal($"plugins.json: {Path.Combine(places.User, "plugins.json")}", lines[1]);
        Assert.StartsWith("plugins.json is broken: 1 problem(s), the first: ", lines[2]);
        Assert.Contains("assembly not found", lines[2]);
        Assert.EndsWith("run 'pv plugins' for all", lines[2]);
    }
}
