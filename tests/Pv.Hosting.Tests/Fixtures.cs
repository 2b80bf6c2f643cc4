// Where the fixture plugins are: tests/fixtures/<project>/bin/<Configuration>/net10.0/<project>.dll under
// the repo root (the folder holding Pv.sln), built in the same Configuration as this test assembly.
// Also writes throw-away plugins.json files for the tests.
namespace Pv.Hosting.Tests;

/// <summary>Paths of the fixture plugins and temporary plugins.json files.</summary>
internal static class Fixtures
{
    /// <summary>The folder holding Pv.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Debug or Release: the folder above this assembly's target-framework folder.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    /// <summary>The main assembly of fixture <c>Pv.Fixtures.&lt;name&gt;</c>.</summary>
    public static string Plugin(string name)
    {
        string project = $"Pv.Fixtures.{name}";
        string path = Path.Combine(RepoRoot, "tests", "fixtures", project, "bin", Configuration, "net10.0", project + ".dll");
        if (!File.Exists(path)) throw new FileNotFoundException($"fixture not built: {path}");
        return path;
    }

    /// <summary>A plugin entry for fixture <paramref name="fixture"/> under the name <paramref name="name"/> (JSON text).</summary>
    public static string PluginEntry(string name, string fixture, string extra = "") =>
        $$"""{ "name": "{{name}}", "path": {{Json(Plugin(fixture))}}{{extra}} }""";

    /// <summary>Writes a plugins.json with the given entries into a fresh temporary folder and returns its path.</summary>
    public static string WriteConfig(string plugins, string backends) =>
        WriteFile("plugins.json", $$"""
            {
              "plugins": [ {{plugins}} ],
              "backends": [ {{backends}} ]
            }
            """);

    /// <summary>Writes <paramref name="content"/> to <paramref name="fileName"/> in a fresh temporary folder.</summary>
    public static string WriteFile(string fileName, string content)
    {
        string folder = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, fileName);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>A JSON string literal.</summary>
    public static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pv.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Pv.sln above {AppContext.BaseDirectory}");
    }
}
